/**
 * Two platform instances behind one load balancer, sharing state as the `ecs` runtime's tasks
 * do (one folder standing in for the EFS volume: accounts, revocations, audit, change requests;
 * the session secret; one origin repository), each with its own clone. Real processes, real
 * git; the balancer is a stand-in as strict as the ALB (test/support/balancer.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import autocannon from 'autocannon';
import { UserStore } from '../webapp/src/auth/users';
import { startBalancer, type Balancer } from './support/balancer';
import { git, makeProject, request } from './support/loop';

const SECRET = 'multi-instance-session-secret-0123456789abcdef';
const USERS = [
  { username: 'ada', password: 'ada-password-1', role: 'developer' as const },
  { username: 'grace', password: 'grace-password-1', role: 'developer' as const },
];

interface Instance {
  port: number;
  child: ChildProcess;
}

function startInstance(
  project: string,
  shared: string,
  origin: string,
  name: string,
): Promise<Instance> {
  const child = spawn(process.execPath, ['webapp/dist/server.js'], {
    cwd: project,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      REFLEX_LOG_LEVEL: 'info',
      REFLEX_REPO_URL: origin,
      REFLEX_BRANCH: 'main',
      REFLEX_WORKDIR: path.join(shared, '..', `work-${name}`),
      REFLEX_USERS_FILE: path.join(shared, 'users.json'),
      REFLEX_SESSION_SECRET: SECRET,
      REFLEX_STATE_DIR: path.join(shared, 'state'),
      REFLEX_AUDIT_FILE: path.join(shared, 'audit.log'),
      REFLEX_FETCH_INTERVAL_MS: '60000',
      REFLEX_SHUTDOWN_TIMEOUT_MS: '2000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance ${name} exited with ${code}`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string; port?: number };
        if (parsed.msg === 'listening' && parsed.port) resolve({ port: parsed.port, child });
      } catch {
        // not JSON
      }
    });
  });
}

async function signIn(base: string, user: (typeof USERS)[number]): Promise<string> {
  const res = await request(base, 'POST', '/api/session', {
    body: { username: user.username, password: user.password },
  });
  if (res.status !== 204) throw new Error(`sign-in answered ${res.status}: ${res.body}`);
  return res.headers['set-cookie']![0]!.split(';')[0]!;
}

/** Waits until the instance's API answers (its clone is ready). */
async function ready(base: string, cookie: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await request(base, 'GET', '/api/tree', { cookie })).status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${base} never became ready`);
}

/** Every JSON line of every file under the audit path (a file, or a folder of files). */
function auditLines(shared: string): Record<string, unknown>[] {
  const root = path.join(shared, 'audit.log');
  const files = statSync(root).isDirectory()
    ? readdirSync(root).map((f) => path.join(root, f))
    : [root];
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>),
  );
}

describe('two platform instances sharing state behind one load balancer (an ALB stand-in)', () => {
  let root: string;
  let project: string;
  let shared: string;
  let origin: string;
  let instances: Instance[] = [];
  let balancer: Balancer;
  const at = (i: number) => `http://127.0.0.1:${instances[i]!.port}`;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-multi-'));
    project = makeProject();
    execFileSync(process.execPath, ['webapp/scripts/build.mjs'], { cwd: project, stdio: 'ignore' });
    origin = path.join(root, 'origin.git');
    git(root, ['clone', '--quiet', '--bare', project, origin]);
    shared = path.join(root, 'shared');
    mkdirSync(path.join(shared, 'state'), { recursive: true });
    const users = new UserStore(path.join(shared, 'users.json'));
    for (const user of USERS) await users.add({ ...user, name: user.username });
    instances = await Promise.all(['a', 'b'].map((n) => startInstance(project, shared, origin, n)));
    balancer = await startBalancer({
      targets: instances.map((i) => i.port),
      intervalMs: 250,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    });
    const cookie = await signIn(at(0), USERS[0]!);
    await Promise.all([ready(at(0), cookie), ready(at(1), cookie)]);
  }, 180_000);

  afterAll(async () => {
    await balancer?.close();
    for (const instance of instances) instance.child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
  });

  it('a session made on one instance is valid on the other', async () => {
    const cookie = await signIn(at(0), USERS[0]!);
    expect((await request(at(1), 'GET', '/api/session', { cookie })).status).toBe(200);
  });

  it('a sign-out on one instance is honoured by the other within a second', async () => {
    const cookie = await signIn(at(0), USERS[1]!);
    expect((await request(at(1), 'GET', '/api/tree', { cookie })).status).toBe(200);
    expect((await request(at(0), 'DELETE', '/api/session', { cookie })).status).toBe(204);
    const deadline = Date.now() + 1000;
    let status = 200;
    while (Date.now() < deadline && status !== 401) {
      status = (await request(at(1), 'GET', '/api/tree', { cookie })).status;
    }
    expect(status).toBe(401);
  });

  it('concurrent saves through both instances from two users are linear, and no edit is lost', async () => {
    const cookies = await Promise.all(USERS.map((u, i) => signIn(at(i), u)));
    const saves: Promise<{ status: number; commit?: string }>[] = [];
    for (let round = 0; round < 6; round++) {
      for (const [i, user] of USERS.entries()) {
        const file = `webapp/site/pages/${user.username}.html`;
        const base = at((round + i) % 2);
        saves.push(
          (async () => {
            for (let attempt = 0; attempt < 5; attempt++) {
              const tree = JSON.parse(
                (await request(base, 'GET', '/api/tree', { cookie: cookies[i]! })).body,
              ) as { commit: string };
              const res = await request(base, 'PUT', `/api/files/${file}`, {
                cookie: cookies[i]!,
                body: {
                  content: `<!doctype html><title>${user.username}</title><p>round ${round}</p>\n`,
                  baseCommit: tree.commit,
                },
              });
              if (res.status !== 409) {
                return {
                  status: res.status,
                  commit: (JSON.parse(res.body) as { commit?: string }).commit,
                };
              }
            }
            return { status: 409 };
          })(),
        );
      }
      await Promise.all(saves.slice(-2));
    }
    const results = await Promise.all(saves);
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    expect(git(origin, ['rev-list', '--merges', 'main'])).toBe('');
    for (const user of USERS) {
      expect(git(origin, ['show', `main:webapp/site/pages/${user.username}.html`])).toContain(
        'round 5',
      );
    }
    const committed = new Set(results.map((r) => r.commit));
    const history = git(origin, ['rev-list', 'main']).split('\n');
    for (const commit of committed) expect(history).toContain(commit);
  }, 120_000);

  it('a listing through one instance right after a save through the other includes the save', async () => {
    const cookie = await signIn(at(0), USERS[0]!);
    for (let i = 0; i < 8; i++) {
      const file = `webapp/site/pages/seen-${i}.html`;
      const tree = JSON.parse((await request(at(0), 'GET', '/api/tree', { cookie })).body) as {
        commit: string;
      };
      const saved = await request(at(0), 'PUT', `/api/files/${file}`, {
        cookie,
        body: { content: `<!doctype html><title>${i}</title>\n`, baseCommit: tree.commit },
      });
      const commit = (JSON.parse(saved.body) as { commit: string }).commit;
      const listing = JSON.parse(
        (
          await request(at(1), 'GET', '/api/tree', {
            cookie,
            headers: { 'x-reflex-seen': commit },
          })
        ).body,
      ) as { commit: string; files: { path: string }[] };
      expect(listing.files.map((f) => f.path)).toContain(file);
    }
  }, 60_000);

  it('the audit holds every save once', () => {
    const saves = auditLines(shared).filter((e) => e.action === 'save' && e.commit);
    const commits = saves.map((e) => e.commit as string);
    expect(new Set(commits).size).toBe(commits.length);
    for (const commit of git(origin, ['rev-list', 'main', '--author=ada', '--author=grace']).split(
      '\n',
    )) {
      if (commit) expect(commits).toContain(commit);
    }
  });

  it('killing one instance under load: once its health check fails, no request fails', async () => {
    const load = (seconds: number) =>
      new Promise<autocannon.Result>((resolve, reject) =>
        autocannon(
          { url: `${balancer.url}/version`, connections: 4, duration: seconds },
          (err, result) => (err ? reject(err as Error) : resolve(result)),
        ),
      );
    const before = load(3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    instances[0]!.child.kill('SIGKILL');
    await before;
    while (balancer.healthy().includes(instances[0]!.port))
      await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await load(3);
    expect(after.non2xx).toBe(0);
    expect(after.errors).toBe(0);
    expect(after.requests.total).toBeGreaterThan(100);
  }, 60_000);
});
