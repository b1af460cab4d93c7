/**
 * The warm gate runs its server as plain JavaScript bundled from `gateServer.ts`: the bundle
 * must follow the source (an edit is never answered by an older bundle) and run without a
 * TypeScript loader.
 */
import { fork } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  appendFileSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileGateServer } from './warmGate';

const PROJECT = path.resolve(__dirname, '../../..');

describe('the gate server bundle', () => {
  let dir: string;
  let cacheDir: string;
  let source: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-gate-bundle-'));
    cacheDir = path.join(dir, 'cache');
    source = path.join(dir, 'gateServer.ts');
    copyFileSync(path.join(__dirname, 'gateServer.ts'), source);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is made again when the source changes, and the older bundle is removed', async () => {
    const first = await compileGateServer(cacheDir, source);
    expect(await compileGateServer(cacheDir, source)).toBe(first);

    appendFileSync(source, "\nexport const edited = 'an edit to the gate server';\n");
    const second = await compileGateServer(cacheDir, source);

    expect(second).not.toBe(first);
    expect(readFileSync(second, 'utf8')).toContain('an edit to the gate server');
    expect(existsSync(first)).toBe(false);
    expect(readdirSync(path.dirname(second))).toEqual([path.basename(second)]);
  });

  it('a damaged file under the current name is written again, not used', async () => {
    const bundle = await compileGateServer(cacheDir, source);
    const good = readFileSync(bundle, 'utf8');
    writeFileSync(bundle, good.slice(0, good.length / 2));

    expect(await compileGateServer(cacheDir, source)).toBe(bundle);
    expect(readFileSync(bundle, 'utf8')).toBe(good);
  });

  it('runs under plain node and answers with the TypeScript of the tree it checks', async () => {
    const bundle = await compileGateServer(cacheDir, source);
    const child = fork(bundle, [PROJECT, 'typecheck'], {
      cwd: PROJECT,
      execArgv: [],
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    try {
      const replies: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        child.on('message', (reply: { id: number }) => {
          replies.push(reply);
          if (reply.id === 0) child.send({ id: 1, kind: 'typecheck', tsconfigs: [], changed: [] });
          else resolve();
        });
        child.once('exit', (code) => reject(new Error(`the gate server exited (${code})`)));
      });
      expect(replies).toEqual([
        { id: 0, ok: true, errors: '' },
        { id: 1, ok: true, errors: '' },
      ]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
