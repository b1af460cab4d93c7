/**
 * Stopping `npm start` while the pipeline works: the first SIGTERM stops the scheduler
 * (nothing new starts, the running command is ended), then the releases and the edge drain
 * within their bound, and the process exits. Real supervisor process, real gate (jest).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ReleaseRecord } from '../webapp/src/pipeline/types';
import { git, makeProject } from './support/loop';

const DRAIN_MS = 4000;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function until(
  check: () => boolean,
  timeoutMs: number,
  what: string,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() > deadline)
        reject(new Error(`timed out waiting for ${what}\n${context().slice(-3000)}`));
      else setTimeout(tick, 100);
    };
    tick();
  });
}

describe('stopping npm start while a run is in a stage and another is queued', () => {
  let project: string;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(() => {
    project = makeProject();
  });

  afterAll(() => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    rmSync(project, { recursive: true, force: true });
  });

  it('starts no stage after the signal, ends the gate, and exits within the drain bound', async () => {
    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'webapp/src/cli/reflex.ts', 'start'], {
      cwd: project,
      env: {
        ...process.env,
        REFLEX_PORT: String(port),
        REFLEX_ADMIN_PASSWORD: 'shutdown-admin-pw',
        REFLEX_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
        REFLEX_POLL_INTERVAL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await until(
      () => output.includes('Reflex is live'),
      300_000,
      '"Reflex is live"',
      () => output,
    );

    // A commit whose gate takes a while (a slow site test), then one more behind it.
    const home = path.join(project, '.reflex');
    const origin = path.join(home, 'origin.git');
    const work = path.join(project, 'pusher');
    git(project, ['clone', '--quiet', origin, work]);
    const test = path.join(work, 'webapp/site/routes.test.ts');
    writeFileSync(
      test,
      readFileSync(test, 'utf8') +
        "\nit('takes its time', () => new Promise((resolve) => setTimeout(resolve, 60_000)), 90_000);\n",
    );
    git(work, ['commit', '--quiet', '-am', 'A slow test']);
    git(work, ['push', '--quiet', 'origin', 'HEAD:main']);
    const slow = git(work, ['rev-parse', 'HEAD']);
    writeFileSync(path.join(work, 'webapp/site/pages/about.html'), '<h1>Queued</h1>\n');
    git(work, ['commit', '--quiet', '-am', 'Queued behind it']);
    git(work, ['push', '--quiet', 'origin', 'HEAD:main']);
    const queued = git(work, ['rev-parse', 'HEAD']);

    const history = () =>
      JSON.parse(readFileSync(path.join(home, 'state/releases.json'), 'utf8')) as ReleaseRecord[];
    await until(
      () => history().some((r) => r.sha === slow && r.stages.some((s) => s.stage === 'gate')),
      120_000,
      'the slow commit to reach its gate',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // jest is running

    const signalled = Date.now();
    process.kill(-child.pid!, 'SIGTERM');
    const code = await new Promise((resolve) => child!.once('exit', (c, s) => resolve(c ?? s)));
    const took = Date.now() - signalled;

    expect(code).toBe(0);
    expect(took).toBeLessThan(DRAIN_MS + 6000);
    expect(output).toContain('Stopped.');
    const records = history();
    const running = records.find((r) => r.sha === slow)!;
    expect(running.stages.map((s) => [s.stage, s.outcome])).toEqual([
      ['checkout', 'succeeded'],
      ['gate', 'failed'],
    ]);
    expect(running.outcome).toBe('failed');
    // The queued commit never started a stage.
    expect(records.find((r) => r.sha === queued)?.stages ?? []).toEqual([]);
    // Nothing the supervisor started is left: no gate, no release.
    expect(existsSync(path.join(home, 'run/supervisor.json'))).toBe(false);
    const left = await new Promise<string>((resolve) => {
      const ps = spawn('pgrep', ['-f', project]);
      let out = '';
      ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
      ps.on('close', () => resolve(out.trim()));
    });
    expect(left).toBe('');
  }, 420_000);
});
