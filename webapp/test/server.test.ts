import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { configSchema } from '../src/config';
import { killSpawned, spawnTs, waitForListening, WEBAPP_DIR } from './support/processes';

afterEach(killSpawned);

const SERVER = path.join(WEBAPP_DIR, 'src/server.ts');
const SLOW = path.join(WEBAPP_DIR, 'test/fixtures/slowInstance.ts');

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('configuration is validated at start-up', () => {
  const invalid: Record<string, string> = {
    PORT: 'eighty',
    REFLEX_LOG_LEVEL: 'loud',
    REFLEX_SHUTDOWN_TIMEOUT_MS: '-5',
    REFLEX_SHA: 'not-a-sha!',
    REFLEX_TRUST_PROXY: 'yes',
    REFLEX_PUBLIC_URL: 'ftp://example.com',
    REFLEX_REPO_URL: 'https://user:token@example.com/repo.git',
    REFLEX_BRANCH: '--upload-pack=evil',
    REFLEX_COMMITTER_EMAIL: 'not an email',
    REFLEX_SESSION_SECRET: 'too short',
    REFLEX_ADMIN_PASSWORD: 'short',
    REFLEX_EDITABLE: ' , ',
    REFLEX_MAX_FILE_BYTES: '0',
    REFLEX_SESSION_IDLE_MINUTES: 'ten',
    REFLEX_SESSION_MAX_HOURS: '-1',
    REFLEX_COOKIE_SECURE: 'sometimes',
    REFLEX_SIGNIN_LIMIT: '1.5',
    REFLEX_FETCH_INTERVAL_MS: '0',
    REFLEX_PIPELINE: 'jenkins',
    REFLEX_SUPERVISOR_URL: 'https://127.0.0.1:1/',
    REFLEX_SUPERVISOR_TOKEN: 'short',
    REFLEX_EDGE_TOKEN: 'short',
    REFLEX_EXIT_WITH_PARENT: '1',
    REFLEX_GITHUB_REPOSITORY: 'no-slash',
    REFLEX_GITHUB_API_URL: 'not a url',
    REFLEX_GITHUB_WORKFLOW: 'deploy.sh',
    REFLEX_EDITOR_URL: 'editor.example.com',
    REFLEX_WIDE_SCOPE: 'yes',
    REFLEX_SIGNIN_ACCOUNT_LIMIT: '0',
    REFLEX_SIGNIN_CONCURRENCY: '-1',
    REFLEX_STREAMS_PER_SESSION: '0',
    REFLEX_STREAMS_PER_CLIENT: 'many',
    REFLEX_STREAM_MAX_SECONDS: '1.5',
    REFLEX_DIRECT_SAVE_ROLES: 'admin,owner',
    REFLEX_CHANGE_REQUEST_ROLES: 'editors',
    REFLEX_PUBLISH_ROLES: 'root',
    REFLEX_PREVIEW_URL: 'https://preview.example.com/',
  };
  /** Keys that take any non-empty string. */
  const anyString = [
    'REFLEX_GITHUB_TOKEN',
    'HOST',
    'REFLEX_WORKDIR',
    'REFLEX_GIT_TOKEN',
    'REFLEX_GIT_USERNAME',
    'REFLEX_COMMITTER_NAME',
    'REFLEX_USERS_FILE',
    'REFLEX_STATE_DIR',
    'REFLEX_AUDIT_FILE',
  ];

  it('has an invalid-value case for every constrained key of the schema', () => {
    const constrained = Object.keys(configSchema.shape).filter((k) => !anyString.includes(k));
    expect(Object.keys(invalid).sort()).toEqual(constrained.sort());
  });

  it.each(Object.entries(invalid))(
    'an invalid %s stops the process, naming the key',
    async (key, value) => {
      const instance = spawnTs(SERVER, { PORT: '0', [key]: value });
      expect(await instance.exited).toBe(78);
      expect(instance.stderr()).toContain(`${key}:`);
      expect(instance.logs.find((l) => l.msg === 'listening')).toBeUndefined();
    },
  );
});

describe('configuration with the editor on', () => {
  it.each(requiredWithEditorKeys())(
    'a missing %s stops the process when REFLEX_REPO_URL is set',
    async (key) => {
      const env: Record<string, string> = {
        PORT: '0',
        REFLEX_REPO_URL: '/nonexistent/repo.git',
        REFLEX_USERS_FILE: '/tmp/users.json',
        REFLEX_SESSION_SECRET: 'x'.repeat(40),
      };
      delete env[key];
      const instance = spawnTs(SERVER, env);
      expect(await instance.exited).toBe(78);
      expect(instance.stderr()).toContain(`${key}: required when REFLEX_REPO_URL is set`);
    },
  );
});

describe('configuration of the pipeline the editor follows', () => {
  it.each(['REFLEX_GITHUB_REPOSITORY', 'REFLEX_GITHUB_TOKEN', 'REFLEX_PUBLIC_URL'])(
    'a missing %s stops the process when REFLEX_PIPELINE=github',
    async (key) => {
      const env: Record<string, string> = {
        PORT: '0',
        REFLEX_PIPELINE: 'github',
        REFLEX_GITHUB_REPOSITORY: 'octo-org/reflex',
        REFLEX_GITHUB_TOKEN: 'github_pat_x',
        REFLEX_PUBLIC_URL: 'https://reflex.example.com',
      };
      delete env[key];
      const instance = spawnTs(SERVER, env);
      expect(await instance.exited).toBe(78);
      expect(instance.stderr()).toContain(`${key}: required when REFLEX_PIPELINE=github`);
    },
  );

  it('REFLEX_PIPELINE=local needs REFLEX_SUPERVISOR_URL', async () => {
    const instance = spawnTs(SERVER, { PORT: '0', REFLEX_PIPELINE: 'local' });
    expect(await instance.exited).toBe(78);
    expect(instance.stderr()).toContain(
      'REFLEX_SUPERVISOR_URL: required when REFLEX_PIPELINE=local',
    );
  });
});

function requiredWithEditorKeys(): string[] {
  return ['REFLEX_USERS_FILE', 'REFLEX_SESSION_SECRET'];
}

describe('an instance started for the local supervisor', () => {
  it('exits on its own when its parent dies, even though its stdout pipe is broken', async () => {
    const parent = spawn(
      process.execPath,
      [path.join(WEBAPP_DIR, 'test/fixtures/parentOfInstance.mjs'), SERVER],
      {
        cwd: WEBAPP_DIR,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const pid = await new Promise<number>((resolve) => {
      parent.stdout.on('data', (chunk: Buffer) =>
        resolve((JSON.parse(chunk.toString()) as { pid: number }).pid),
      );
    });
    expect(isRunning(pid)).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(isRunning(pid)).toBe(false);
  }, 30_000);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('graceful shutdown', () => {
  it('on SIGTERM a 2-second request in flight completes with 200, then the process exits 0', async () => {
    const instance = spawnTs(SLOW, { PORT: '0', REFLEX_SHUTDOWN_TIMEOUT_MS: '10000' });
    const port = await waitForListening(instance);

    const inFlight = get(port, '/slow?ms=2000');
    await new Promise((r) => setTimeout(r, 300));
    instance.child.kill('SIGTERM');

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ slept: 2000 });
    expect(await instance.exited).toBe(0);
    expect(instance.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down: draining in-flight requests', 'stopped']),
    );
  }, 20_000);

  it('refuses new connections once draining has started', async () => {
    const instance = spawnTs(SLOW, { PORT: '0' });
    const port = await waitForListening(instance);
    const inFlight = get(port, '/slow?ms=1500');
    await new Promise((r) => setTimeout(r, 200));
    instance.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await expect(get(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    expect((await inFlight).status).toBe(200);
    expect(await instance.exited).toBe(0);
  }, 20_000);

  it('cuts requests that outlive the drain bound and still exits 0', async () => {
    const instance = spawnTs(SLOW, { PORT: '0', REFLEX_SHUTDOWN_TIMEOUT_MS: '500' });
    const port = await waitForListening(instance);
    const inFlight = get(port, '/slow?ms=10000');
    await new Promise((r) => setTimeout(r, 200));
    const killedAt = Date.now();
    instance.child.kill('SIGTERM');
    await expect(inFlight).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await instance.exited).toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(instance.logs.find((l) => l.msg === 'stopped')).toMatchObject({ forced: true });
  }, 20_000);
});
