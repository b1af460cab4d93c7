/**
 * Change requests as GitHub pull requests, through Octokit, against recorded GitHub REST
 * responses (webapp/test/fixtures/github/pulls), each validated against GitHub's official
 * OpenAPI description before it is served.
 */
import { DomainError } from '../src/errors';
import type { ChangeRequestRecord } from '../src/editor/changeRequestBackend';
import { checksState, GitHubChangeRequests, reviewState } from '../src/editor/githubChangeRequests';
import { loadRecording, replayGitHub, validateExchange, type Exchange } from './support/githubApi';

const TOKEN = 'ghs_recordedFixtureToken';
const BRANCH = 'reflex/ann/new-team-page';
const HEAD = '6dcb09b5b57875f334f61aebed695e2e4193db5e';
const ANN = {
  username: 'ann',
  name: 'Ann Author',
  email: 'ann@example.com',
  role: 'author' as const,
};
const ROOT = {
  username: 'root',
  name: 'Root Admin',
  email: 'root@example.com',
  role: 'admin' as const,
};
const RECORD: ChangeRequestRecord = {
  branch: BRANCH,
  title: 'New team page',
  description: 'Adds Dan',
  author: 'ann',
  status: 'open',
  url: null,
  checks: null,
  review: null,
};

async function withGitHub<T>(
  recording: string,
  use: (backend: GitHubChangeRequests) => Promise<T>,
) {
  const github = await replayGitHub(loadRecording(recording), TOKEN);
  try {
    const backend = new GitHubChangeRequests({
      repository: 'octo-org/site',
      token: TOKEN,
      apiUrl: github.url,
      branch: 'main',
    });
    const result = await use(backend);
    return { result, received: github.received, problems: github.problems() };
  } finally {
    await github.close();
  }
}

describe('change requests as GitHub pull requests (recorded GitHub responses)', () => {
  it('opening one creates a pull request from its branch into main, with the description and who opened it (recorded GitHub responses)', async () => {
    const { result, received, problems } = await withGitHub('pulls/create', (b) =>
      b.open(RECORD, ANN),
    );
    expect(problems).toEqual([]);
    expect(received[0]!.body).toEqual({
      title: 'New team page',
      head: BRANCH,
      base: 'main',
      body: 'Adds Dan\n\n<!-- reflex -->\nOpened in the Reflex editor by ann.',
    });
    expect(result).toMatchObject({
      branch: BRANCH,
      description: 'Adds Dan',
      author: 'ann',
      status: 'open',
      url: 'https://github.com/octo-org/site/pull/1347',
    });
  });

  it('the list shows open pull requests with their CI status and review state (recorded GitHub responses)', async () => {
    const { result, problems } = await withGitHub('pulls/list-open', (b) => b.list());
    expect(problems).toEqual([]);
    expect(result).toEqual([
      expect.objectContaining({
        branch: BRANCH,
        author: 'ann',
        checks: 'pending',
        review: 'approved',
      }),
    ]);
  });

  it('updating changes the title and description; a failed check and a request for changes show (recorded GitHub responses)', async () => {
    const { result, received, problems } = await withGitHub('pulls/update', (b) =>
      b.update(BRANCH, { title: 'Team page', description: 'Adds Dan and Eve' }),
    );
    expect(problems).toEqual([]);
    expect(received[1]!.body).toEqual({
      title: 'Team page',
      body: 'Adds Dan and Eve\n\n<!-- reflex -->\nOpened in the Reflex editor by ann.',
    });
    expect(result).toMatchObject({
      title: 'Team page',
      description: 'Adds Dan and Eve',
      checks: 'failure',
      review: 'changes_requested',
    });
  });

  it('publishing merges exactly the checked head and deletes the branch (recorded GitHub responses)', async () => {
    const { result, received, problems } = await withGitHub('pulls/merge', (b) =>
      b.publish({ record: RECORD, head: HEAD, by: ROOT }),
    );
    expect(problems).toEqual([]);
    expect(received[1]!.body).toMatchObject({ sha: HEAD, merge_method: 'merge' });
    expect(received[2]).toMatchObject({
      method: 'DELETE',
      path: `/repos/octo-org/site/git/refs/heads/${BRANCH}`,
    });
    expect(result).toEqual({ commit: 'e5bd3914e2e596debea16f433f57875b5b90bcd6' });
  });

  it("a merge refused by branch protection says why, in GitHub's words, and deletes nothing (recorded GitHub responses)", async () => {
    let thrown: unknown;
    const { problems, received } = await withGitHub('pulls/merge-refused-protected', (b) =>
      b.publish({ record: RECORD, head: HEAD, by: ROOT }).catch((err: unknown) => (thrown = err)),
    );
    expect(problems).toEqual([]);
    expect(thrown).toBeInstanceOf(DomainError);
    expect(thrown).toMatchObject({ code: 'merge_refused', details: { githubStatus: 405 } });
    expect((thrown as Error).message).toContain('At least 1 approving review is required');
    expect((thrown as Error).message).toContain('Required status check "test / unit" is expected');
    expect(received.map((r) => r.method)).toEqual(['GET', 'PUT']);
  });

  it('closing closes the pull request and deletes the branch, already gone or not (recorded GitHub responses)', async () => {
    const { received, problems } = await withGitHub('pulls/close', (b) => b.close(BRANCH));
    expect(problems).toEqual([]);
    expect(received[1]!.body).toEqual({ state: 'closed' });
  });
});

describe("recorded GitHub responses are held to GitHub's OpenAPI description", () => {
  it('every recording validates', () => {
    for (const name of [
      'create',
      'list-open',
      'update',
      'merge',
      'merge-refused-protected',
      'close',
    ]) {
      for (const exchange of loadRecording(`pulls/${name}`))
        expect(() => validateExchange(exchange)).not.toThrow();
    }
  });

  it('a fixture with a field of the wrong type is refused, naming the field', () => {
    const [exchange] = loadRecording('pulls/create') as [Exchange];
    const body = exchange.body as { number: unknown };
    body.number = '1347';
    expect(() => validateExchange(exchange)).toThrow(/\/number must be integer/);
  });

  it('a status GitHub does not document for the operation is refused', () => {
    expect(() =>
      validateExchange({
        operation: 'PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge',
        request: { method: 'PUT', path: '/x' },
        status: 418,
        body: {},
      }),
    ).toThrow(/no 418 response/);
  });
});

describe('CI status and review state of a pull request', () => {
  it('any failed check fails; any running one is pending; none is unknown', () => {
    expect(checksState([])).toBeNull();
    expect(checksState([{ status: 'completed', conclusion: 'success' }])).toBe('success');
    expect(
      checksState([
        { status: 'completed', conclusion: 'success' },
        { status: 'queued', conclusion: null },
      ]),
    ).toBe('pending');
    expect(
      checksState([
        { status: 'queued', conclusion: null },
        { status: 'completed', conclusion: 'failure' },
      ]),
    ).toBe('failure');
  });

  it("a reviewer's latest verdict counts; a request for changes outweighs approvals", () => {
    const r = (login: string, state: string) => ({ user: { login } as never, state });
    expect(reviewState([])).toBe('none');
    expect(reviewState([r('a', 'CHANGES_REQUESTED'), r('a', 'APPROVED')])).toBe('approved');
    expect(reviewState([r('a', 'APPROVED'), r('b', 'CHANGES_REQUESTED')])).toBe(
      'changes_requested',
    );
    expect(reviewState([r('a', 'COMMENTED')])).toBe('commented');
  });
});
