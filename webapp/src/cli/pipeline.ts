/**
 * `reflex status | releases | logs | rollback`: what the local loop runs and did, from its
 * control API when the supervisor runs, else from its files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pushRestore } from '../git/restore';
import { GitWorkspace } from '../git/workspace';
import { createLogger } from '../logger';
import { History } from '../loop/history';
import type { HomePaths } from '../loop/home';
import { SseReader } from '../pipeline/sse';
import type { ReleaseRecord, StageEvent } from '../pipeline/types';
import { UsageError } from './usage';

const projectDir = path.resolve(__dirname, '../../..');

interface Running {
  controlPort: number;
  edgePort: number;
  token: string;
}

function running(paths: HomePaths): Running | undefined {
  try {
    const info = JSON.parse(readFileSync(paths.supervisorFile, 'utf8')) as Running & {
      pid: number;
    };
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

function getJson<T>(sup: Running, urlPath: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          host: '127.0.0.1',
          port: sup.controlPort,
          path: urlPath,
          agent: false,
          headers: { authorization: `Bearer ${sup.token}` },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body) as T));
        },
      )
      .on('error', reject);
  });
}

export async function status(paths: HomePaths): Promise<void> {
  const sup = running(paths);
  if (!sup) {
    console.log(`Reflex is not running (REFLEX_HOME ${paths.root}). Start it with: npm start`);
    return;
  }
  const s = await getJson<{
    live: { sha: string } | null;
    running: { sha: string; stage: string | null } | null;
    pending: string | null;
    url: string;
    editor: string;
  }>(sup, '/status');
  console.log(`live:     ${s.live ? s.live.sha : '(none)'}`);
  console.log(
    `pipeline: ${s.running ? `${s.running.sha.slice(0, 12)} at ${s.running.stage ?? 'queue'}` : 'idle'}`,
  );
  console.log(`queued:   ${s.pending ?? '(nothing)'}`);
  console.log(`url:      ${s.url}   editor: ${s.editor}`);
}

function formatReleases(releases: ReleaseRecord[]): string {
  const rows = releases.map((r) => {
    const timings = r.stages
      .map(
        (s) =>
          `${s.stage} ${s.durationMs === undefined ? '…' : (s.durationMs / 1000).toFixed(1) + 's'}${s.outcome === 'failed' ? '✗' : ''}`,
      )
      .join(', ');
    return `${r.live ? '*' : ' '} ${r.sha.slice(0, 12)}  ${r.outcome.padEnd(10)} ${r.committedAt.slice(0, 19).replace('T', ' ')}  ${r.author.split(' <')[0]!.padEnd(16).slice(0, 16)}  ${r.message.slice(0, 50)}${timings ? `\n      ${timings}` : ''}`;
  });
  return rows.length ? rows.join('\n') : '(no releases yet)';
}

export async function releases(paths: HomePaths): Promise<void> {
  const sup = running(paths);
  const list = sup
    ? (await getJson<{ releases: ReleaseRecord[] }>(sup, '/releases')).releases
    : new History(path.join(paths.state, 'releases.json')).all();
  console.log(formatReleases(list));
}

export function logs(
  paths: HomePaths,
  prefix: string | undefined,
  stage: string | undefined,
): void {
  if (!prefix) throw new UsageError('usage: reflex logs <sha> [stage]');
  const dirs = existsSync(paths.logs)
    ? readdirSync(paths.logs).filter((d) => d.startsWith(prefix))
    : [];
  if (dirs.length !== 1)
    throw new UsageError(
      dirs.length ? `${prefix} is ambiguous: ${dirs.join(', ')}` : `no logs for ${prefix}`,
    );
  const dir = path.join(paths.logs, dirs[0]!);
  for (const file of readdirSync(dir).sort()) {
    if (stage && !file.startsWith(stage)) continue;
    console.log(`==> ${file}`);
    console.log(readFileSync(path.join(dir, file), 'utf8'));
  }
}

function operator(): { name: string; email: string } {
  const read = (key: string) => {
    try {
      return execFileSync('git', ['config', key], {
        cwd: projectDir,
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    } catch {
      return '';
    }
  };
  return {
    name: read('user.name') || os.userInfo().username,
    email: read('user.email') || `${os.userInfo().username}@localhost`,
  };
}

export async function rollback(
  paths: HomePaths,
  sha: string | undefined,
  branch: string,
): Promise<void> {
  if (!sha) throw new UsageError('usage: reflex rollback <sha>');
  const full = resolveSha(paths, sha);
  const logger = createLogger('silent');
  console.log(`Rolling ${branch} back to ${full.slice(0, 12)}…`);
  const workspace = await GitWorkspace.clone({
    repoUrl: paths.origin,
    branch,
    credentials: { username: 'x' },
    committer: { name: 'Reflex', email: 'reflex@users.reflex.invalid' },
    logger,
  });
  let outcome;
  try {
    outcome = await pushRestore(workspace, full, operator());
  } finally {
    await workspace.close();
  }
  if (outcome.kind !== 'committed') throw new UsageError(outcome.message);
  const commit = outcome.commit;
  console.log(`Pushed ${commit.slice(0, 12)} (restores ${full.slice(0, 12)}).`);
  const sup = running(paths);
  if (!sup) {
    console.log('The supervisor is not running: `npm start` will deploy it.');
    return;
  }
  await follow(sup, commit);
}

function resolveSha(paths: HomePaths, given: string): string {
  try {
    return execFileSync(
      'git',
      ['--git-dir', paths.origin, 'rev-parse', '--verify', `${given}^{commit}`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim();
  } catch {
    throw new UsageError(`${given} is not a commit of the local origin`);
  }
}

/** Prints the pipeline's stages for `sha` until it is live or has failed. */
function follow(sup: Running, sha: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: sup.controlPort,
        path: '/events',
        agent: false,
        headers: { authorization: `Bearer ${sup.token}` },
      },
      (res) => {
        const reader = new SseReader();
        res.on('data', (chunk: Buffer) => {
          for (const data of reader.push(chunk.toString('utf8'))) {
            const event = data as StageEvent;
            if (event.sha !== sha || event.status === 'started') continue;
            const took =
              event.durationMs === undefined ? '' : ` (${(event.durationMs / 1000).toFixed(1)} s)`;
            console.log(
              `  ${event.stage} ${event.status === 'succeeded' ? 'ok' : 'FAILED'}${took}`,
            );
            if (event.status === 'failed' || event.stage === 'live') {
              if (event.status === 'failed' && event.log) console.log(event.log);
              req.destroy();
              resolve();
            }
          }
        });
      },
    );
    req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
  });
}
