/** The real app with the editor on, against a real bare origin, for supertest-driven tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import type { Middleware } from 'koa';
import { createApp } from '../../src/app';
import type { Role } from '../../src/api/contract';
import type { UserStore } from '../../src/auth/users';
import { composeEditor, composePipeline, type RunningEditor } from '../../src/compose';
import { LocalPipelineTracker } from '../../src/pipeline/local';
import { loadConfig, type Config } from '../../src/config';
import { Lifecycle } from '../../src/http/lifecycle';
import { createMetrics, type Metrics } from '../../src/metrics/registry';
import { captureLogs, type CapturedLogs } from './logs';
import { createOrigin, type Origin } from './repos';

export const PASSWORD = 'correct horse battery';

export interface EditorHarness {
  app: ReturnType<typeof createApp>;
  origin: Origin;
  editor: RunningEditor;
  config: Config;
  metrics: Metrics;
  logs: CapturedLogs;
  users: UserStore;
  dir: string;
  /** A supertest agent signed in as `username` (created as a developer unless it exists). */
  signedIn(username?: string, role?: Role): Promise<TestAgent>;
  close(): Promise<void>;
}

export const SITE_FILES: Record<string, string> = {
  'webapp/site/pages/index.html': '<h1>Hello</h1>\n',
  'webapp/site/routes.ts': 'export const answer: number = 42;\n',
  'webapp/site/data.json': '{"ok": true}\n',
  'webapp/src/server.ts': 'export {};\n',
  'package.json': '{"name":"fixture"}\n',
  '.github/workflows/ci.yml': 'on: push\n',
  'deploy-scripts/deploy.sh': '#!/bin/sh\n',
  'README.md': '# fixture\n',
};

export async function editorHarness(
  options: {
    files?: Record<string, string>;
    symlinks?: Record<string, string>;
    env?: Record<string, string>;
    /** The editor's pages and assets (see test/support/browser.ts). */
    editorUi?: Middleware;
    /** A supervisor's control API to follow (see supervisorStandIn.ts): the pipeline routes. */
    supervisorUrl?: string;
  } = {},
): Promise<EditorHarness> {
  const origin = createOrigin(options.files ?? SITE_FILES, { symlinks: options.symlinks ?? {} });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-editor-'));
  const config = loadConfig({
    REFLEX_REPO_URL: origin.dir,
    REFLEX_USERS_FILE: path.join(dir, 'users.json'),
    REFLEX_SESSION_SECRET: 'test-secret-0123456789-0123456789-abcdef',
    REFLEX_ADMIN_PASSWORD: PASSWORD,
    REFLEX_WORKDIR: path.join(dir, 'workspace'),
    REFLEX_STATE_DIR: dir,
    ...options.env,
  });
  const logs = captureLogs();
  const metrics = createMetrics();
  const editor = await composeEditor(config.editor!, {
    logger: logs.logger,
    metrics,
    announce: () => undefined,
  });
  await editor.clone.whenReady();
  const lifecycle = new Lifecycle();
  lifecycle.markReady();
  const tracker = options.supervisorUrl
    ? new LocalPipelineTracker(options.supervisorUrl, logs.logger)
    : undefined;
  const app = createApp({
    config,
    logger: logs.logger,
    metrics,
    lifecycle,
    buildInfo: { sha: 'test', builtAt: 'test' },
    editor: editor.api,
    pipeline: tracker && composePipeline(editor, tracker, lifecycle),
    editorUi: options.editorUi,
  });
  const users = editor.api.users;
  return {
    app,
    origin,
    editor,
    config,
    metrics,
    logs,
    users,
    dir,
    async signedIn(username = 'admin', role: Role = 'developer') {
      if (!(await users.find(username))) {
        await users.add({
          username,
          name: `${username} Person`,
          email: `${username}@example.com`,
          role,
          password: PASSWORD,
        });
      }
      const agent = request.agent(app.callback());
      const res = await agent.post('/api/session').send({ username, password: PASSWORD });
      if (res.status !== 204)
        throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
      return agent;
    },
    async close() {
      tracker?.close();
      await editor.close();
      origin.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `/api/files/<path>` with each segment URL-encoded. */
export function fileUrl(filePath: string, prefix = '/api/files/'): string {
  return prefix + filePath.split('/').map(encodeURIComponent).join('/');
}

/** A harness's app served on a free loopback port, closed with the harness. */
export interface ServedHarness {
  h: EditorHarness;
  baseUrl: string;
  close(): Promise<void>;
}

export async function serveHarness(h: EditorHarness): Promise<ServedHarness> {
  const handle = h.app.callback();
  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    h,
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.close();
    },
  };
}
