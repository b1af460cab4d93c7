// github-secrets.sh against stand-ins for `pulumi` and `gh` (GitHub's API cannot be reached
// from a test): they record their arguments and the values they receive on stdin.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, 'github-secrets.sh');

const OUTPUTS = {
  ecrRepositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/reflex-dev',
  awsRegion: 'us-east-1',
  deployRoleArn: 'arn:aws:iam::123456789012:role/ci-deploy-role-1a2b3c4',
  sshHost: '198.51.100.23',
  sshUser: 'deploy',
  sshHostKey: '198.51.100.23 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey',
  sshPrivateKey:
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAsecretsecret\n-----END OPENSSH PRIVATE KEY-----\n',
  appUrl: 'http://edge-alb-1234567890.us-east-1.elb.amazonaws.com',
  appHttps: false,
};

interface Call {
  tool: string;
  args: string[];
  stdin: string;
}

/** Runs the script with the stand-ins first on PATH; returns its output and the recorded calls. */
function runScript(args: string[], outputs: Record<string, unknown> = OUTPUTS) {
  const dir = mkdtempSync(path.join(tmpdir(), 'reflex-gh-'));
  try {
    const log = path.join(dir, 'calls.log');
    writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(outputs));
    // Each stand-in appends one line to calls.log: tool, args and stdin (base64), separated by
    // \x1f; `pulumi` prints the outputs, `gh repo view` the repository.
    const recorder = (tool: string, body: string) => {
      const file = path.join(dir, tool);
      writeFileSync(
        file,
        [
          '#!/usr/bin/env bash',
          'stdin=""',
          `if [[ "$1" == variable || "$1" == secret ]]; then stdin="$(base64 -w0)"; fi`,
          `{ printf '%s' "${tool}"; printf '\x1f%s' "$@"; printf '\x1e%s\n' "$stdin"; } >>"${log}"`,
          body,
          '',
        ].join('\n'),
      );
      chmodSync(file, 0o755);
    };
    recorder('pulumi', `cat "${path.join(dir, 'outputs.json')}"`);
    recorder('gh', 'if [[ "$1 $2" == "repo view" ]]; then echo octo-org/reflex; fi');
    const result = spawnSync('bash', [SCRIPT, ...args], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` },
    });
    let calls: Call[] = [];
    try {
      calls = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((line) => {
          const [command = '', stdin = ''] = line.split('\x1e');
          const [tool = '', ...args] = command.split('\x1f');
          return { tool, args, stdin: Buffer.from(stdin, 'base64').toString('utf8') };
        });
    } catch {
      calls = [];
    }
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('github-secrets.sh (stand-ins for pulumi and gh)', () => {
  it('sets each output as a variable, the private key as a secret, values through stdin only', () => {
    const run = runScript(['--stack', 'dev']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.calls[0]).toEqual({
      tool: 'pulumi',
      args: ['stack', 'output', '--json', '--show-secrets', '--stack', 'dev'],
      stdin: '',
    });
    expect(run.calls.slice(1).map((c) => [c.args.join(' '), c.stdin])).toEqual([
      ['variable set ECR_REPOSITORY_URL', OUTPUTS.ecrRepositoryUrl],
      ['variable set AWS_REGION', OUTPUTS.awsRegion],
      ['variable set DEPLOY_ROLE_ARN', OUTPUTS.deployRoleArn],
      ['variable set SSH_HOST', OUTPUTS.sshHost],
      ['variable set SSH_USER', OUTPUTS.sshUser],
      ['variable set SSH_HOST_KEY', OUTPUTS.sshHostKey],
      ['variable set APP_URL', OUTPUTS.appUrl],
      ['secret set SSH_PRIVATE_KEY', OUTPUTS.sshPrivateKey],
    ]);
  });

  it('prints the names it sets and never a value', () => {
    const run = runScript([]);
    expect(run.stdout.trim().split('\n')).toEqual([
      'set variable ECR_REPOSITORY_URL (from ecrRepositoryUrl)',
      'set variable AWS_REGION (from awsRegion)',
      'set variable DEPLOY_ROLE_ARN (from deployRoleArn)',
      'set variable SSH_HOST (from sshHost)',
      'set variable SSH_USER (from sshUser)',
      'set variable SSH_HOST_KEY (from sshHostKey)',
      'set variable APP_URL (from appUrl)',
      'set secret SSH_PRIVATE_KEY (from sshPrivateKey)',
    ]);
    const printed = run.stdout + run.stderr;
    for (const value of [
      OUTPUTS.ecrRepositoryUrl,
      OUTPUTS.deployRoleArn,
      OUTPUTS.sshHost,
      OUTPUTS.appUrl,
      'OPENSSH PRIVATE KEY',
    ]) {
      expect(printed).not.toContain(value);
    }
    // Nor on any command line, where other users of the machine could see it.
    expect(run.calls.flatMap((c) => c.args).join(' ')).not.toContain('secretsecret');
  });

  it('targets a deployment environment (created if missing) and a named repository', () => {
    const run = runScript(['--env', 'prod', '--repo', 'octo-org/reflex']);
    expect(run.status).toBe(0);
    const gh = run.calls.filter((c) => c.tool === 'gh').map((c) => c.args.join(' '));
    expect(gh.slice(0, 3)).toEqual([
      'repo view octo-org/reflex --json nameWithOwner --jq .nameWithOwner',
      'api --method PUT repos/octo-org/reflex/environments/prod --silent',
      'variable set ECR_REPOSITORY_URL --env prod --repo octo-org/reflex',
    ]);
    expect(gh[gh.length - 1]).toBe('secret set SSH_PRIVATE_KEY --env prod --repo octo-org/reflex');
  });

  it('says how to set the key itself when the stack uses a configured public key', () => {
    const { sshPrivateKey: _omitted, ...withoutKey } = OUTPUTS;
    const run = runScript([], withoutKey);
    expect(run.status).toBe(0);
    expect(run.calls.some((c) => c.args[0] === 'secret')).toBe(false);
    expect(run.stdout).toContain('no sshPrivateKey output (the stack uses reflex:sshPublicKey)');
  });

  it('fails naming an output the stack lacks', () => {
    const { deployRoleArn: _omitted, ...partial } = OUTPUTS;
    const run = runScript([], partial);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the stack has no output deployRoleArn');
  });

  it('refuses unknown arguments with its usage', () => {
    const run = runScript(['--force']);
    expect(run.status).toBe(64);
    expect(run.stderr).toContain('bash pulumi/scripts/github-secrets.sh [--stack NAME]');
    expect(run.calls).toEqual([]);
  });
});
