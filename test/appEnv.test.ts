/**
 * The contract between the stack and the app: the app.env the Pulumi user data writes is a valid
 * configuration of the app as written (editor off), and once the operator fills in the lines the
 * file offers — plus the session secret bootstrap.sh appends — the editor and the GitHub
 * pipeline view are on.
 */
import { loadConfig } from '../webapp/src/config';
import { appEnvironment, deployEnvironment } from '../pulumi/userData';

const written = appEnvironment(
  deployEnvironment({
    repositoryUrl: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/reflex-dev',
    deployBranch: 'main',
    githubRepository: 'octo-org/reflex',
    region: 'eu-west-1',
    environment: 'dev',
  }),
);

/** The env file as `docker run --env-file` reads it: KEY=VALUE lines, `#` lines skipped. */
function envFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('the app.env the stack writes', () => {
  it('is a valid app configuration as written, with the editor off', () => {
    const config = loadConfig(envFile(written));
    expect(config.editor).toBeUndefined();
    expect(config.trustProxy).toBe(true);
    expect(config.pipeline).toEqual({ kind: 'none' });
  });

  it('turns the editor and the GitHub pipeline view on once the operator fills in the offered lines', () => {
    const filled = written
      .replace('# REFLEX_REPO_URL=', 'REFLEX_REPO_URL=')
      .replace(/# REFLEX_GIT_TOKEN=<[^>]*>/, 'REFLEX_GIT_TOKEN=github_pat_contents')
      .replace('# REFLEX_PIPELINE=github', 'REFLEX_PIPELINE=github')
      .replace(/# REFLEX_GITHUB_TOKEN=<[^>]*>/, 'REFLEX_GITHUB_TOKEN=github_pat_actions')
      .replace(/# REFLEX_PUBLIC_URL=<[^>]*>/, 'REFLEX_PUBLIC_URL=https://reflex.example.com');
    const config = loadConfig({ ...envFile(filled), REFLEX_SESSION_SECRET: 'f'.repeat(64) });
    expect(config.editor).toMatchObject({
      repoUrl: 'https://github.com/octo-org/reflex.git',
      branch: 'main',
      usersFile: '/data/users.json',
      stateDir: '/data',
      auditFile: '/data/audit.log',
      gitToken: 'github_pat_contents',
    });
    expect(config.pipeline).toMatchObject({
      kind: 'github',
      repository: 'octo-org/reflex',
      publicUrl: 'https://reflex.example.com',
    });
  });
});
