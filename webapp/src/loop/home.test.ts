/**
 * The local origin's post-receive hook, with a real push to a real bare repository and a
 * control endpoint on loopback that holds the hook's notice open: the push is answered without
 * waiting for the notice, and the notice still arrives whole.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { git, homePaths, installHook, PLAIN_GIT_ENV } from './home';

const run = promisify(execFile);

describe('the post-receive hook', () => {
  let root: string;
  let server: http.Server;
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  it('answers the push at once and leaves the notice to run on its own (its reply held back)', async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-hook-'));
    const paths = homePaths(root);
    mkdirSync(paths.run, { recursive: true });
    git(root, ['init', '--quiet', '--bare', '--initial-branch=main', paths.origin]);
    installHook(paths);

    let pushDone = false;
    let noticeClosed = false;
    const arrived = new Promise<{ auth?: string; body: string; res: http.ServerResponse }>(
      (resolve) => {
        server = http.createServer((req, res) => {
          req.socket.on('close', () => (noticeClosed = true));
          let body = '';
          req.on('data', (d: Buffer) => (body += d.toString('utf8')));
          // Held: the reply comes only after the push is answered.
          req.on('end', () => resolve({ auth: req.headers.authorization, body, res }));
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    writeFileSync(paths.supervisorFile, JSON.stringify({ controlPort: port, token: 't0k' }));

    const work = path.join(root, 'clone');
    const inWork = (args: string[]) =>
      execFileSync('git', ['-C', work, ...args], { env: PLAIN_GIT_ENV })
        .toString('utf8')
        .trim();
    mkdirSync(work);
    inWork(['init', '--quiet', '--initial-branch=main']);
    writeFileSync(path.join(work, 'page.html'), '<h1>Hi</h1>\n');
    inWork(['add', '-A']);
    inWork(['-c', 'user.name=A', '-c', 'user.email=a@x', 'commit', '--quiet', '-m', 'one']);
    const sha = inWork(['rev-parse', 'HEAD']);
    const push = run('git', ['-C', work, 'push', '--quiet', paths.origin, 'main'], {
      env: PLAIN_GIT_ENV,
    }).then(() => (pushDone = true));

    // The hook's notice reaches the control endpoint, which does not answer it yet; the push is
    // answered all the same, the notice still waiting (a hook that waited for the notice would
    // hold the push until its timeout gave up on the notice, closing it).
    const notice = await arrived;
    await push;
    expect(noticeClosed).toBe(false);
    notice.res.end();
    expect(pushDone).toBe(true);
    expect(notice.auth).toBe('Bearer t0k');
    expect(JSON.parse(notice.body)).toEqual({
      updates: [{ from: '0'.repeat(40), to: sha, ref: 'refs/heads/main' }],
    });
  }, 30_000);
});
