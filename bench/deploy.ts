/**
 * The deploy path on loopback (the deploy tier's lab: podman, a registry, sshd, nginx):
 *   - deploy duration on the host: deploy.sh start → edge switched (p50 over N deploys, and the
 *     whole run including drain and stopping the old release);
 *   - image size: the whole image, and what the Dockerfile adds to its base;
 *   - build time with the dependency layers cached (only a source file changed) against a
 *     build without any layer cache, alternated round by round.
 * Needs root, podman, docker-registry, sshd, nginx (the deploy tier's tools).
 */
import { cpSync, mkdirSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { DeployLab, randomSha, runOk } from '../test/deploy/lab';
import { median, percentile, table, type BenchResult } from './support';

const TARGET_SWITCH_P50_S = 5;
const TARGET_WARM_OVER_COLD = 0.5;

/** A copy of the build context (tracked files only), so that a source edit stays out of the tree. */
async function copyContext(lab: DeployLab, into: string): Promise<string> {
  const root = path.resolve(__dirname, '..');
  const files = (
    await runOk('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root })
  )
    .split('\n')
    .filter(Boolean);
  const dir = path.join(lab.dir, into);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    try {
      cpSync(path.join(root, file), path.join(dir, file));
    } catch {
      /* deleted in the work tree but still tracked */
    }
  }
  return dir;
}

async function timedBuild(lab: DeployLab, context: string, extra: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const result = await lab.podman('builder', [
    'build',
    '--format',
    'docker',
    '--pull=never',
    '--build-arg',
    `REFLEX_SHA=${randomSha()}`,
    '--tag',
    'bench/reflex:latest',
    ...extra,
    context,
  ]);
  if (result.code !== 0) throw new Error(`build failed:\n${result.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export async function deployBench(options: {
  deploys: number;
  buildRounds: number;
}): Promise<BenchResult> {
  const lab = new DeployLab();
  try {
    await lab.start();
    await lab.buildStandInBase();

    // Build times: cold (no layer cache) and warm (a source file changed, dependencies cached).
    const context = await copyContext(lab, 'context');
    const cold: number[] = [];
    const warm: number[] = [];
    for (let round = 0; round < options.buildRounds; round++) {
      cold.push(await timedBuild(lab, context, ['--no-cache']));
      appendFileSync(path.join(context, 'webapp/src/server.ts'), `\n// bench edit ${round}\n`);
      warm.push(await timedBuild(lab, context, []));
    }

    // Image size, and what the Dockerfile adds to its base.
    const size = async (ref: string) =>
      Number(
        (
          await lab.podman('builder', ['image', 'inspect', '--format', '{{.Size}}', ref])
        ).stdout.trim(),
      );
    const imageBytes = await size('bench/reflex:latest');
    const baseBytes = await size('docker.io/library/node:20-bookworm-slim');

    // Deploy durations: alternate two releases so that each deploy is a real blue/green switch.
    const images = [await lab.buildAndPush(randomSha()), await lab.buildAndPush(randomSha())];
    for (let i = 0; i < options.deploys + 1; i++) {
      const result = await lab.script('deploy.sh', [images[i % 2]!]);
      if (result.code !== 0) throw new Error(`deploy failed:\n${result.stderr}`);
    }
    // The first deploy pulls and starts from nothing; the rest are the steady state.
    const records = lab.history().slice(-options.deploys);
    const switchSeconds = records.map((r) => r.switchSeconds!);
    const totalSeconds = records.map((r) => r.durationSeconds);

    const mb = (bytes: number) => bytes / 1e6;
    const ratio = median(warm) / median(cold);
    const switchP50 = median(switchSeconds);
    const report = [
      table([
        { figure: 'deploy.sh start → switched, p50 (s)', value: switchP50 },
        { figure: 'deploy.sh start → switched, p90 (s)', value: percentile(switchSeconds, 90) },
        { figure: 'deploy.sh whole run incl. drain, p50 (s)', value: median(totalSeconds) },
        { figure: 'image size (MB)', value: mb(imageBytes) },
        { figure: 'added to the base image (MB)', value: mb(imageBytes - baseBytes) },
        { figure: 'build, no layer cache, median (s)', value: median(cold) },
        { figure: 'build, dependency layers cached, median (s)', value: median(warm) },
      ]),
      `warm / cold build = ${ratio.toFixed(3)} (target <= ${TARGET_WARM_OVER_COLD}); ` +
        `switch p50 ${switchP50.toFixed(2)} s (target <= ${TARGET_SWITCH_P50_S} s)`,
      `(${options.deploys} deploys after a first one, alternating two releases; ` +
        `${options.buildRounds} alternating build rounds; podman with the stand-in base image, on loopback)`,
    ].join('\n');
    return {
      name: 'deploy',
      report,
      pass: switchP50 <= TARGET_SWITCH_P50_S && ratio <= TARGET_WARM_OVER_COLD,
      figures: {
        switchP50Seconds: switchP50,
        totalP50Seconds: median(totalSeconds),
        imageMB: mb(imageBytes),
        addedMB: mb(imageBytes - baseBytes),
        coldBuildSeconds: median(cold),
        warmBuildSeconds: median(warm),
        warmOverCold: ratio,
      },
    };
  } finally {
    await lab.close();
  }
}
