/**
 * Sign-in flood: does a flood of wrong sign-ins stall everyone else? One real instance
 * (the flood comes through the edge's header with one client address) gets bursts of 200
 * concurrent wrong sign-ins, one burst after another, while a signed-in
 * user asks who they are (`GET /api/session`) one request after another. Side by side in one run: that user's
 * latency without the flood, then with it; and the password checks each 200-burst caused.
 * Targets: at most 5 password checks per burst; the other user's p99 ≤ 100 ms under flood.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {
  killSpawned,
  spawnTs,
  waitForListening,
  WEBAPP_DIR,
} from '../webapp/test/support/processes';
import { createOrigin } from '../webapp/test/support/repos';
import { median, percentile, table, type BenchResult } from './support';

const EDGE_TOKEN = 'bench-edge-token-0123456789';
const PASSWORD = 'bench-password-1';

async function timedReads(base: string, cookie: string, untilMs: number): Promise<number[]> {
  const latencies: number[] = [];
  while (Date.now() < untilMs) {
    const started = performance.now();
    const res = await fetch(`${base}/api/session`, { headers: { cookie } });
    await res.arrayBuffer();
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/**
 * The attacker, in its own process (as it would be on its own machine): bursts of 200
 * concurrent wrong sign-ins from one address, until `seconds` have passed.
 * Prints one JSON line per burst: how many were checked (401) and refused (429).
 */
const FLOOD = `
const http = require('node:http');
const [base, token, seconds] = process.argv.slice(1);
const until = Date.now() + Number(seconds) * 1000;
const body = JSON.stringify({ username: 'admin', password: 'wrong password' });
const one = (address) => new Promise((resolve) => {
  const req = http.request(base + '/api/session', { method: 'POST', agent: false, headers: {
    'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
    'x-reflex-edge': token, 'x-forwarded-for': address } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', () => resolve(0));
  req.end(body);
});
(async () => {
  for (let i = 0; Date.now() < until; i++) {
    const statuses = await Promise.all(Array.from({ length: 200 }, () => one('203.0.113.7')));
    console.log(JSON.stringify({ checked: statuses.filter((s) => s === 401).length, limited: statuses.filter((s) => s === 429).length }));
  }
})();
`;

function flood(base: string, seconds: number): Promise<{ checked: number; limited: number }[]> {
  const child = spawn(process.execPath, ['-e', FLOOD, base, EDGE_TOKEN, String(seconds)]);
  const bursts: { checked: number; limited: number }[] = [];
  readline
    .createInterface({ input: child.stdout })
    .on('line', (line) => bursts.push(JSON.parse(line)));
  return new Promise((resolve) => child.once('exit', () => resolve(bursts)));
}

export async function signinBench(options: { seconds: number }): Promise<BenchResult> {
  const origin = createOrigin({ 'webapp/site/pages/index.html': '<h1>bench</h1>\n' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-bench-signin-'));
  try {
    const instance = spawnTs(path.join(WEBAPP_DIR, 'src/server.ts'), {
      PORT: '0',
      REFLEX_REPO_URL: origin.dir,
      REFLEX_USERS_FILE: path.join(dir, 'users.json'),
      REFLEX_SESSION_SECRET: 's'.repeat(40),
      REFLEX_ADMIN_PASSWORD: PASSWORD,
      REFLEX_EDGE_TOKEN: EDGE_TOKEN,
    });
    const base = `http://127.0.0.1:${await waitForListening(instance)}`;
    const signIn = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;

    const quiet = await timedReads(base, cookie, Date.now() + options.seconds * 1000);
    const flooding = flood(base, options.seconds);
    const flooded = await timedReads(base, cookie, Date.now() + options.seconds * 1000);
    const bursts = await flooding;

    const maxChecked = Math.max(...bursts.map((b) => b.checked));
    const totalChecked = bursts.reduce((sum, b) => sum + b.checked, 0);
    const figures = {
      quietP50Ms: median(quiet),
      quietP99Ms: percentile(quiet, 99),
      floodP50Ms: median(flooded),
      floodP99Ms: percentile(flooded, 99),
      bursts: bursts.length,
      maxPasswordChecksPerBurst: maxChecked,
      passwordChecks: totalChecked,
    };
    const pass = totalChecked <= 5 && figures.floodP99Ms <= 100;
    const report =
      table([
        {
          case: 'no flood',
          requests: quiet.length,
          'p50 ms': figures.quietP50Ms.toFixed(1),
          'p99 ms': figures.quietP99Ms.toFixed(1),
        },
        {
          case: 'under flood',
          requests: flooded.length,
          'p50 ms': figures.floodP50Ms.toFixed(1),
          'p99 ms': figures.floodP99Ms.toFixed(1),
        },
      ]) +
      `\n${bursts.length} bursts of 200 wrong sign-ins; ${totalChecked} password checks in all (target ≤ 5); p99 under flood target ≤ 100 ms`;
    return { name: 'signin', report, pass, figures };
  } finally {
    killSpawned();
    origin.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
