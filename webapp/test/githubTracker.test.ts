/**
 * The GitHub pipeline tracker against recorded GitHub API responses (webapp/test/fixtures/github),
 * replayed frame by frame by a local HTTP server that also answers the public /version.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  failureLog,
  GitHubPipelineTracker,
  newestRun,
  stageOfJob,
  type WorkflowRun,
} from '../src/pipeline/github';
import type { StageEvent } from '../src/pipeline/types';

const FIXTURES = path.join(__dirname, 'fixtures/github');
const TOKEN = 'ghs_recordedFixtureToken';

interface Frame {
  runs: WorkflowRun[];
  jobs: unknown[];
  version: string;
}
interface Recording {
  repository: string;
  sha: string;
  previousSha: string;
  runUrl: string;
  frames: Frame[];
}

const load = <T>(name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as T;

/** Serves a recording: each request for the run list or for /version moves to the next frame. */
async function replay(recording: Recording, options: { status?: number } = {}) {
  let frame = -1;
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req);
    const url = new URL(req.url!, 'http://x');
    const current = () =>
      recording.frames[Math.min(Math.max(frame, 0), recording.frames.length - 1)]!;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/version') {
      frame += 1;
      return json(200, { sha: current().version, builtAt: '2026-03-02T10:09:00Z' });
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      return json(401, { message: 'Bad credentials', status: '401' });
    }
    if (options.status) return json(options.status, { message: 'Server Error' });
    const runs = `/repos/${recording.repository}/actions/workflows/deploy.yml/runs`;
    if (url.pathname === runs) {
      frame += 1;
      const sha = url.searchParams.get('head_sha');
      const list = current().runs.filter((r) => !sha || r.head_sha === sha);
      return json(200, { total_count: list.length, workflow_runs: list });
    }
    const jobs = /^\/repos\/[^/]+\/[^/]+\/actions\/runs\/(\d+)\/jobs$/.exec(url.pathname);
    if (jobs) return json(200, { total_count: current().jobs.length, jobs: current().jobs });
    return json(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function collect(tracker: GitHubPipelineTracker, until: (e: StageEvent) => boolean) {
  const events: StageEvent[] = [];
  return {
    events,
    done: new Promise<StageEvent[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`stuck after ${JSON.stringify(events)}`)),
        3_000,
      );
      tracker.subscribe((event) => {
        events.push(event);
        if (until(event)) {
          clearTimeout(timer);
          resolve(events);
        }
      });
    }),
  };
}

const stages = (events: StageEvent[]) => events.map((e) => `${e.stage}:${e.status}`);

describe('GitHub pipeline tracker (recorded GitHub API responses)', () => {
  it('follows a pushed SHA through tests, image and deploy to live (recorded GitHub API responses)', async () => {
    const recording = load<Recording>('deploy-run-success.json');
    const api = await replay(recording);
    const tracker = new GitHubPipelineTracker({
      apiBaseUrl: api.base,
      token: TOKEN,
      repository: recording.repository,
      publicUrl: api.base,
      pollIntervalMs: 5,
    });
    try {
      const seen = collect(tracker, (e) => e.stage === 'live' && e.status !== 'started');
      tracker.follow(recording.sha);
      const events = await seen.done;
      expect(stages(events)).toEqual([
        'committed:started',
        'committed:succeeded',
        'tests:started',
        'tests:succeeded',
        'image:started',
        'image:succeeded',
        'deploy:started',
        'deploy:succeeded',
        'live:started',
        'live:succeeded',
      ]);
      expect(events.every((e) => e.sha === recording.sha)).toBe(true);
      const byStage = (stage: string, status: string) =>
        events.find((e) => e.stage === stage && e.status === status)!;
      // Durations come from the jobs' recorded start and end times.
      expect(byStage('tests', 'succeeded').durationMs).toBe(402_000);
      expect(byStage('image', 'succeeded').durationMs).toBe(142_000);
      expect(byStage('deploy', 'succeeded').durationMs).toBe(44_000);
      expect(byStage('deploy', 'succeeded').url).toBe(recording.runUrl);
      expect(tracker.recentEvents()).toEqual(events);

      // Every API call carried the token and GitHub's JSON media type and API version.
      const apiCalls = api.requests.filter((r) => r.url!.startsWith('/repos/'));
      expect(apiCalls.length).toBeGreaterThan(0);
      for (const call of apiCalls) {
        expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
        expect(call.headers.accept).toBe('application/vnd.github+json');
        expect(call.headers['x-github-api-version']).toBe('2022-11-28');
      }
      expect(apiCalls[0]!.url).toContain(`head_sha=${recording.sha}`);
    } finally {
      tracker.close();
      await api.close();
    }
  });

  it('reports a failed test job with a link to it and the failing step (recorded GitHub API responses)', async () => {
    const recording = load<Recording>('deploy-run-tests-fail.json');
    const api = await replay(recording);
    const tracker = new GitHubPipelineTracker({
      apiBaseUrl: api.base,
      token: TOKEN,
      repository: recording.repository,
      publicUrl: api.base,
      pollIntervalMs: 5,
    });
    try {
      const seen = collect(tracker, (e) => e.status === 'failed');
      tracker.follow(recording.sha);
      const events = await seen.done;
      expect(stages(events)).toEqual([
        'committed:started',
        'committed:succeeded',
        'tests:started',
        'tests:failed',
      ]);
      const failed = events.at(-1)!;
      expect(failed.url).toMatch(new RegExp(`^${recording.runUrl}/job/\\d+$`));
      expect(failed.log).toContain('job "test / lint, typecheck, tests" concluded failure');
      expect(failed.log).toContain('concluded failure');
      expect(failed.durationMs).toBe(378_000);
    } finally {
      tracker.close();
      await api.close();
    }
  });

  it('a rejected token ends the followed stage as failed, naming the API answer (recorded GitHub API responses)', async () => {
    const recording = load<Recording>('deploy-run-success.json');
    const api = await replay(recording);
    const tracker = new GitHubPipelineTracker({
      apiBaseUrl: api.base,
      token: 'ghs_wrong',
      repository: recording.repository,
      publicUrl: api.base,
      pollIntervalMs: 5,
      maxConsecutiveErrors: 3,
    });
    try {
      const seen = collect(tracker, (e) => e.status === 'failed');
      tracker.follow(recording.sha);
      const failed = (await seen.done).at(-1)!;
      expect(failed.stage).toBe('tests');
      expect(failed.log).toContain('answered 401');
    } finally {
      tracker.close();
      await api.close();
    }
  });

  it('lists releases newest first with the live one marked (recorded GitHub API responses)', async () => {
    const list = load<{
      repository: string;
      runs: { workflow_runs: WorkflowRun[] };
      version: string;
    }>('deploy-runs-list.json');
    const api = await replay({
      repository: list.repository,
      sha: list.version,
      previousSha: '',
      runUrl: '',
      frames: [{ runs: list.runs.workflow_runs, jobs: [], version: list.version }],
    });
    const tracker = new GitHubPipelineTracker({
      apiBaseUrl: api.base,
      token: TOKEN,
      repository: list.repository,
      publicUrl: api.base,
    });
    try {
      const releases = await tracker.releases();
      expect(releases.map((r) => [r.sha.slice(0, 7), r.outcome, r.live])).toEqual([
        ['9999999', 'failed', false],
        [list.version.slice(0, 7), 'live', true],
        ['1b2c3d4', 'retired', false],
      ]);
      expect(releases[1]).toMatchObject({
        author: 'Ada Lovelace',
        message: 'Make the greeting friendlier',
        committedAt: '2026-03-02T10:00:01Z',
      });
    } finally {
      tracker.close();
      await api.close();
    }
  });

  it('maps deploy.yml jobs to stages and picks the newest run', () => {
    expect(stageOfJob('test / lint, typecheck, tests')).toBe('tests');
    expect(stageOfJob('promotion-check')).toBe('tests');
    expect(stageOfJob('image')).toBe('image');
    expect(stageOfJob('deploy')).toBe('deploy');
    expect(stageOfJob('plan')).toBeUndefined();
    const run = (id: number, created: string) =>
      ({
        id,
        created_at: created,
        head_sha: 'a',
        status: 'completed',
        conclusion: null,
        html_url: '',
      }) as WorkflowRun;
    expect(
      newestRun([
        run(1, '2026-01-01T00:00:00Z'),
        run(3, '2026-01-02T00:00:00Z'),
        run(2, '2026-01-02T00:00:00Z'),
      ])!.id,
    ).toBe(3);
    expect(
      failureLog({
        id: 1,
        name: 'image',
        status: 'completed',
        conclusion: 'failure',
        started_at: null,
        completed_at: null,
        html_url: null,
        steps: [{ name: 'Build', status: 'completed', conclusion: 'failure' }],
      }),
    ).toBe('job "image" concluded failure\nstep "Build" concluded failure');
  });

  it('refuses a malformed repository and an empty token', () => {
    const base = { apiBaseUrl: 'http://127.0.0.1:1', publicUrl: 'http://127.0.0.1:1' };
    expect(
      () => new GitHubPipelineTracker({ ...base, token: 't', repository: 'no-slash' }),
    ).toThrow('repository must be owner/repo, got "no-slash"');
    expect(() => new GitHubPipelineTracker({ ...base, token: '', repository: 'a/b' })).toThrow(
      'actions: read',
    );
  });
});
