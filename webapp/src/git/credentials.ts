/**
 * How git authenticates, without the secret ever landing in `.git/config`, a URL, a log line
 * or an error: git asks GIT_ASKPASS (a script with no secret in it) which prints the token
 * from the child's environment. Anything git prints is passed through `redact` before it is
 * logged or shown.
 */
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export interface GitCredentials {
  /** Token for https remotes (e.g. a GitHub fine-grained token with contents: write). */
  token?: string | undefined;
  /** Username sent with the token; GitHub accepts any, conventionally `x-access-token`. */
  username: string;
}

const ASKPASS = `#!/bin/sh
# Answers git's credential prompts from the environment; holds no secret itself.
case "$1" in
  Username*) printf '%s\\n' "$REFLEX_GIT_USERNAME" ;;
  *) printf '%s\\n' "$REFLEX_GIT_TOKEN" ;;
esac
`;

/** Writes the askpass helper into `privateDir` and returns its path. */
export async function installAskpass(privateDir: string): Promise<string> {
  const file = path.join(privateDir, 'askpass.sh');
  await writeFile(file, ASKPASS, { mode: 0o700 });
  await chmod(file, 0o700);
  return file;
}

/** Environment for every git child: isolated from user/system config, never prompting. */
export function gitEnvironment(
  credentials: GitCredentials,
  askpass: string | undefined,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: base.PATH ?? '/usr/bin:/bin',
    HOME: base.HOME ?? '/tmp',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    // A user's or the system's git config (signing, hooks, credential stores) must not
    // change what the app does.
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
  };
  for (const key of ['GIT_SSH_COMMAND', 'SSH_AUTH_SOCK'] as const) {
    const value = base[key];
    if (value) env[key] = value;
  }
  if (credentials.token && askpass) {
    env.GIT_ASKPASS = askpass;
    env.REFLEX_GIT_USERNAME = credentials.username;
    env.REFLEX_GIT_TOKEN = credentials.token;
  }
  return env;
}

/** Removes secrets from text git printed: the token itself and any `scheme://user:pass@`. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/** True when a remote URL carries credentials in it (refused: use REFLEX_GIT_TOKEN). */
export function urlHasCredentials(url: string): boolean {
  return /^https?:\/\/[^/@\s]+@/i.test(url);
}

/**
 * simple-git strips git's environment variables unless named, and refuses some as unsafe
 * because an attacker-controlled value could run code. Ours are set by the app itself, never
 * from a request: config paths point at /dev/null, the askpass script is ours, and the ssh
 * command comes from the operator's environment.
 */
const SIMPLE_GIT_OPTIONS = {
  allowEnvironment: [
    'GIT_TERMINAL_PROMPT',
    'GIT_CONFIG_GLOBAL',
    'GIT_CONFIG_NOSYSTEM',
    'GIT_ASKPASS',
    'GIT_SSH_COMMAND',
  ],
  unsafe: { allowUnsafeConfigPaths: true, allowUnsafeAskPass: true, allowUnsafeSshCommand: true },
  completion: { onClose: true, onExit: false },
};

/** simple-git in `baseDir` (the remote operations), with `env` as every git child's. */
export function simpleGitFor(baseDir: string, env: Record<string, string>): SimpleGit {
  return simpleGit({ baseDir, ...SIMPLE_GIT_OPTIONS }).env(env);
}
