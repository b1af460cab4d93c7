import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessError, startInstance, type ReleaseProcess } from './processes';

/** A release process stand-in: real Node running `code`. */
function start(logFile: string, code: string, timeoutMs = 10_000): Promise<ReleaseProcess> {
  return startInstance({
    sha: 'a'.repeat(40),
    cwd: os.tmpdir(),
    args: ['-e', code],
    env: { PATH: process.env.PATH },
    logFile,
    timeoutMs,
  });
}

const LISTENING = `process.stdout.write(JSON.stringify({ msg: 'listening', port: 4321 }) + '\\n');`;

describe('starting a release process', () => {
  let dir: string;
  let logFile: string;
  let started: ReleaseProcess | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-processes-'));
    logFile = path.join(dir, 'site.log');
  });
  afterEach(async () => {
    await started?.stop(1000);
    started = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the process writes its stdout and stderr to its log file itself: the supervisor relays no line', async () => {
    started = await start(
      logFile,
      `${LISTENING} console.error('on stderr'); setInterval(() => console.log('a request'), 20);`,
    );
    expect(started.port).toBe(4321);
    // The child's own descriptors are the log file, not pipes the supervisor has to read.
    expect(readlinkSync(`/proc/${started.pid}/fd/1`)).toBe(logFile);
    expect(readlinkSync(`/proc/${started.pid}/fd/2`)).toBe(logFile);
    await new Promise((r) => setTimeout(r, 200));
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('"listening"');
    expect(log).toContain('on stderr');
    expect(log).toContain('a request');
  });

  it('finds the listening line after other output, even when it arrives in pieces', async () => {
    started = await start(
      logFile,
      `console.log('warming up'); process.stdout.write('{"msg":"liste');
       setTimeout(() => { process.stdout.write('ning","port":5678}\\n'); setInterval(() => {}, 1000); }, 100);`,
    );
    expect(started.port).toBe(5678);
  });

  it('a process that exits at start is reported with the end of what this run wrote', async () => {
    writeFileSync(logFile, 'a line of an earlier run\n');
    const failure = await start(
      logFile,
      `console.error('site code failed at start: the details'); process.exit(3);`,
    ).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ProcessError);
    expect((failure as ProcessError).message).toBe('release exited while starting (3)');
    expect((failure as ProcessError).logTail).toContain('site code failed at start: the details');
    expect((failure as ProcessError).logTail).not.toContain('an earlier run');
  });

  it('a process that never listens is killed after the timeout and reported with its log', async () => {
    const failure = await start(
      logFile,
      `console.log('still starting'); setInterval(() => {}, 1000);`,
      800,
    ).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ProcessError);
    expect((failure as ProcessError).message).toBe('release did not start listening within 800 ms');
    expect((failure as ProcessError).logTail).toContain('still starting');
  });
});
