/**
 * The deploy workflow's critical path, measured on loopback with the deploy tier's lab (podman,
 * a registry, sshd, nginx): for a commit, the deploy workflow's gate for that change
 * (deploy-scripts/ci/classify.sh on the range since the live commit, then the gate at that
 * level), the image build with a warm layer cache, the push to the loopback registry, and
 * deploy.sh until the edge serves the new commit. The gate job's `npm ci` (a fresh clone, a
 * warm npm cache) is measured and reported beside the total: a fresh runner pays it too.
 *
 *   - a page edit (level content): the median over N edits, against a target of 90 s;
 *   - a platform change (level all: lint, typecheck and every tier): measured and reported. On
 *     GitHub the tiers are parallel jobs, so the gate's wall time there is its slowest job; here
 *     they run one after another on one machine, and both figures are given.
 *
 * The repository is cloned at HEAD (committed work only) into the lab, as a runner checks it out.
 * Needs root and the deploy tier's tools; the platform change needs every tier's tools.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DeployLab, runOk } from '../test/deploy/lab';
import { median, table, type BenchResult } from './support';

const ROOT = path.resolve(__dirname, '..');
const TARGET_PAGE_EDIT_SECONDS = 90;

interface Timed {
  seconds: number;
  ok: boolean;
  output: string;
}

/** Run a command in `cwd`, timing it; never throws on a non-zero exit. */
function timed(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Timed> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, ok: code === 0, output }),
    );
  });
}

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@reflex.invalid',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@reflex.invalid',
  };
  return (await runOk('git', args, { cwd, env })).trim();
}

/** Change `file` in the clone and commit it; returns the new SHA. */
async function commitEdit(clone: string, file: string, text: string): Promise<string> {
  writeFileSync(path.join(clone, file), readFileSync(path.join(clone, file), 'utf8') + text);
  await git(clone, 'commit', '--quiet', '--all', '-m', `bench: edit ${file}`);
  return git(clone, 'rev-parse', 'HEAD');
}

interface PathResult {
  level: string;
  /** Wall time of each step of the critical path, in order. */
  steps: [string, number][];
  /** Jobs of the `all` gate (lint and one per tier), when it ran. */
  jobs: [string, Timed][];
  gateOk: boolean;
  /** The critical path: classify, the gate, build, push, deploy.sh until served. */
  total: number;
  /** The same with the `all` gate's jobs in parallel, as ci.yml runs them (their slowest). */
  parallelTotal: number;
  /** `npm ci` before the gate, as a fresh runner pays it (reported beside the total). */
  install: number;
}

/** Build, push and deploy `sha` from the clone; returns the step times (deploy: until served). */
async function release(lab: DeployLab, clone: string, sha: string): Promise<[string, number][]> {
  const tag = `${lab.registry}/reflex:${sha}`;
  let started = process.hrtime.bigint();
  await lab.build(sha, clone, tag);
  const buildSeconds = seconds(started);
  started = process.hrtime.bigint();
  const image = await lab.push(tag);
  const pushSeconds = seconds(started);
  started = process.hrtime.bigint();
  const deploy = lab.script('deploy.sh', [image]);
  let servedAt: number | undefined;
  while (servedAt === undefined) {
    if ((await lab.edgeSha().catch(() => '')) === sha) servedAt = seconds(started);
    else if (await Promise.race([deploy.then(() => true), sleep(50).then(() => false)])) {
      const result = await deploy;
      if (result.code !== 0) throw new Error(`deploy.sh failed:\n${result.stderr}`);
      if ((await lab.edgeSha()) !== sha)
        throw new Error(`deploy.sh finished but the edge does not serve ${sha}`);
      servedAt = seconds(started);
    }
  }
  const finished = await deploy;
  if (finished.code !== 0) throw new Error(`deploy.sh failed after switching:\n${finished.stderr}`);
  return [
    ['image build (warm layer cache)', buildSeconds],
    ['push to the loopback registry', pushSeconds],
    ['deploy.sh until the edge serves it', servedAt],
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One commit through the critical path, from the range since `live`. */
async function criticalPath(
  lab: DeployLab,
  clone: string,
  live: string,
  sha: string,
): Promise<PathResult> {
  const steps: [string, number][] = [];
  const jobs: [string, Timed][] = [];
  const classify = await timed(
    path.join(clone, 'deploy-scripts/ci/classify.sh'),
    [live, sha],
    clone,
  );
  if (!classify.ok) throw new Error(`classify.sh failed:\n${classify.output}`);
  const level = /level=(\w+)/.exec(classify.output)![1]!;
  steps.push(['classify.sh', classify.seconds]);
  const npmCi = await timed('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], clone);
  if (!npmCi.ok) throw new Error(`npm ci failed:\n${npmCi.output}`);
  let gateOk: boolean;
  let gateParallel: number;
  if (level === 'all') {
    const tiers = Object.keys(
      JSON.parse(readFileSync(path.join(clone, 'test/tiers.json'), 'utf8')) as object,
    );
    jobs.push([
      'lint + typecheck',
      await timed('bash', ['-c', 'npm run lint && npm run typecheck'], clone),
    ]);
    for (const tier of tiers) {
      const env = { REFLEX_REQUIRE_ALL: '1' };
      jobs.push([`tier ${tier}`, await timed('node', ['scripts/test.mjs', tier], clone, env)]);
    }
    gateOk = jobs.every(([, j]) => j.ok);
    const sum = jobs.reduce((s, [, j]) => s + j.seconds, 0);
    gateParallel = Math.max(...jobs.map(([, j]) => j.seconds));
    steps.push(['gate: every job, one after another', sum]);
  } else {
    const gate = await timed(path.join(clone, 'deploy-scripts/ci/gate.sh'), [level], clone);
    if (!gate.ok) throw new Error(`gate.sh ${level} failed:\n${gate.output}`);
    gateOk = true;
    gateParallel = gate.seconds;
    steps.push([`gate.sh ${level}`, gate.seconds]);
  }
  steps.push(...(await release(lab, clone, sha)));
  const total = steps.reduce((s, [, v]) => s + v, 0);
  // steps: classify, the gate, then the release's three.
  const sequentialGate = steps[1]![1];
  return {
    level,
    steps,
    jobs,
    gateOk,
    total,
    parallelTotal: total - sequentialGate + gateParallel,
    install: npmCi.seconds,
  };
}

export async function deployCriticalBench(options: {
  pageEdits: number;
  platform: boolean;
}): Promise<BenchResult> {
  const lab = new DeployLab();
  try {
    await lab.start();
    await lab.buildStandInBase();
    const clone = path.join(lab.dir, 'clone');
    await git(lab.dir, 'clone', '--quiet', ROOT, clone);

    // Before the first edit: an installed clone, a release live, the layer cache warm.
    const install = await timed(
      'npm',
      ['ci', '--prefer-offline', '--no-audit', '--no-fund'],
      clone,
    );
    if (!install.ok) throw new Error(`npm ci failed:\n${install.output}`);
    let live = await git(clone, 'rev-parse', 'HEAD');
    await release(lab, clone, live);

    const pages: PathResult[] = [];
    for (let i = 0; i < options.pageEdits; i++) {
      const sha = await commitEdit(
        clone,
        'webapp/site/pages/index.html',
        `<!-- bench edit ${i} -->\n`,
      );
      pages.push(await criticalPath(lab, clone, live, sha));
      live = sha;
    }
    const platform = options.platform
      ? await criticalPath(
          lab,
          clone,
          live,
          await commitEdit(clone, 'webapp/src/server.ts', '\n// bench: a platform change\n'),
        )
      : undefined;

    const pageTotal = median(pages.map((p) => p.total));
    const rows: Record<string, string | number>[] = [];
    for (const [step] of pages[0]!.steps) {
      rows.push({
        step: `page edit: ${step}`,
        'median (s)': median(pages.map((p) => p.steps.find(([s]) => s === step)![1])),
      });
    }
    rows.push({ step: 'page edit: critical path, total', 'median (s)': pageTotal });
    rows.push({
      step: 'page edit: npm ci before the gate (fresh clone, warm npm cache)',
      'median (s)': median(pages.map((p) => p.install)),
    });
    if (platform) {
      for (const [step, value] of platform.steps)
        rows.push({ step: `platform: ${step}`, 'median (s)': value });
      for (const [job, t] of platform.jobs)
        rows.push({
          step: `platform gate job: ${job}${t.ok ? '' : ' (FAILED)'}`,
          'median (s)': t.seconds,
        });
      rows.push({
        step: 'platform: critical path, jobs one after another',
        'median (s)': platform.total,
      });
      rows.push({
        step: 'platform: critical path, gate jobs in parallel (as ci.yml)',
        'median (s)': platform.parallelTotal,
      });
      rows.push({ step: 'platform: npm ci before the gate', 'median (s)': platform.install });
    }
    const levels = pages.map((p) => p.level).join(', ');
    // A failed gate job is part of the result: show why, without keeping whole logs.
    const failures = (platform?.jobs ?? [])
      .filter(([, t]) => !t.ok)
      .map(
        ([job, t]) =>
          `--- ${job} failed; its last lines:\n${t.output.trimEnd().split('\n').slice(-30).join('\n')}`,
      );
    const report = [
      table(rows),
      `page edit (${options.pageEdits} edits, levels: ${levels}): median ${pageTotal.toFixed(1)} s ` +
        `(target <= ${TARGET_PAGE_EDIT_SECONDS} s)`,
      platform
        ? `platform change (level ${platform.level}, gate ${platform.gateOk ? 'passed' : 'FAILED'}): ` +
          `${platform.total.toFixed(0)} s one after another, ${platform.parallelTotal.toFixed(0)} s with the gate's jobs in parallel`
        : 'platform change: not run',
      '(podman with the stand-in base image, a loopback registry, deploy.sh over a loopback sshd; ' +
        'one machine: the gate, the build and the host share its cores)',
      ...failures,
    ].join('\n');
    const figures: Record<string, number> = {
      pageEditTotalSeconds: pageTotal,
      pageEditInstallSeconds: median(pages.map((p) => p.install)),
      pageEditBuildSeconds: median(
        pages.map((p) => p.steps.find(([s]) => s.startsWith('image build'))![1]),
      ),
    };
    if (platform) {
      figures.platformSequentialSeconds = platform.total;
      figures.platformParallelSeconds = platform.parallelTotal;
    }
    return {
      name: 'deployCritical',
      report,
      pass:
        pages.every((p) => p.level === 'content') &&
        pageTotal <= TARGET_PAGE_EDIT_SECONDS &&
        (platform === undefined || (platform.level === 'all' && platform.gateOk)),
      figures,
    };
  } finally {
    await lab.close();
  }
}
