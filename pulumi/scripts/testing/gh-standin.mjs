#!/usr/bin/env node
// A stand-in for the `gh` commands github-secrets.sh runs (GitHub cannot be reached from a
// test): it keeps the repository's environments, branch policies, variables and secrets in a
// JSON file (GH_STANDIN_STATE), answers with the shapes GitHub's REST API documents, refuses what
// GitHub refuses (an unknown flag, a missing environment or variable, both branch-policy kinds at
// once, a branch policy on an environment without custom policies) and logs every call with its
// stdin (GH_STANDIN_LOG, one JSON line each).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const statePath = process.env.GH_STANDIN_STATE;
const logPath = process.env.GH_STANDIN_LOG;
const args = process.argv.slice(2);
const readsStdin =
  (args[0] === 'variable' || args[0] === 'secret') && args[1] === 'set'
    ? true
    : args[0] === 'api' && args.includes('--input');
const stdin = readsStdin ? readFileSync(0, 'utf8') : '';
appendFileSync(logPath, `${JSON.stringify({ args, stdin })}\n`);
const state = JSON.parse(readFileSync(statePath, 'utf8'));

/** Exits as gh does on an HTTP error. */
function httpError(status, message) {
  process.stderr.write(`gh: ${message} (HTTP ${status})\n`);
  process.exit(1);
}

/** Splits `--flag value` pairs (and bare flags) off the positional arguments; refuses unknown ones. */
function parse(list, allowed, bare = []) {
  const flags = {};
  const positional = [];
  for (let i = 0; i < list.length; i++) {
    const arg = list[i];
    if (!arg.startsWith('--')) positional.push(arg);
    else if (bare.includes(arg)) flags[arg] = true;
    else if (allowed.includes(arg) && i + 1 < list.length) flags[arg] = list[++i];
    else {
      process.stderr.write(`unknown flag: ${arg}\n`);
      process.exit(1);
    }
  }
  return { flags, positional };
}

function repoOf(flags) {
  const repo = flags['--repo'];
  if (repo !== state.repo)
    httpError(404, `Could not resolve to a Repository with the name '${repo}'`);
}

function environment(name) {
  const found = state.environments[name];
  if (!found) httpError(404, 'Not Found');
  return found;
}

function save() {
  writeFileSync(statePath, JSON.stringify(state, null, 2));
}

function repoView(rest) {
  const { flags, positional } = parse(rest, ['--json', '--jq']);
  const repo = positional[0] ?? state.repo;
  if (repo !== state.repo)
    httpError(404, `Could not resolve to a Repository with the name '${repo}'`);
  if (flags['--json'] !== 'nameWithOwner' || flags['--jq'] !== '.nameWithOwner') {
    httpError(400, 'the stand-in answers only --json nameWithOwner --jq .nameWithOwner');
  }
  console.log(state.repo);
}

/** The REST endpoints github-secrets.sh uses, with GitHub's documented answers. */
function api(rest) {
  const { flags, positional } = parse(rest, ['--method', '--input'], ['--silent']);
  const method = flags['--method'] ?? 'GET';
  const body = flags['--input'] === '-' ? JSON.parse(stdin) : undefined;
  const match =
    /^repos\/([^/]+\/[^/]+)\/environments\/([^/]+)(\/deployment-branch-policies(?:\/(\d+))?)?$/.exec(
      positional[0] ?? '',
    );
  if (!match || match[1] !== state.repo) httpError(404, 'Not Found');
  const [, , name, policies, id] = match;
  let answer;
  if (!policies && method === 'PUT') {
    const policy = body?.deployment_branch_policy ?? null;
    if (
      policy &&
      (typeof policy.protected_branches !== 'boolean' ||
        typeof policy.custom_branch_policies !== 'boolean')
    ) {
      httpError(
        422,
        'Invalid request: deployment_branch_policy needs protected_branches and custom_branch_policies',
      );
    }
    if (policy?.protected_branches && policy?.custom_branch_policies) {
      httpError(422, 'Only one of protected_branches and custom_branch_policies can be true');
    }
    const existing = state.environments[name] ?? {
      branch_policies: [],
      variables: {},
      secrets: {},
    };
    state.environments[name] = { ...existing, deployment_branch_policy: policy };
    answer = {
      id: 161088068,
      name,
      url: `https://api.github.com/repos/${state.repo}/environments/${name}`,
      deployment_branch_policy: policy,
    };
  } else if (policies && !id && method === 'GET') {
    const list = environment(name).branch_policies;
    answer = { total_count: list.length, branch_policies: list };
  } else if (policies && !id && method === 'POST') {
    const env = environment(name);
    if (!env.deployment_branch_policy?.custom_branch_policies) httpError(404, 'Not Found');
    if (typeof body?.name !== 'string' || !['branch', 'tag', undefined].includes(body.type)) {
      httpError(422, 'Invalid request');
    }
    if (env.branch_policies.some((p) => p.name === body.name)) httpError(303, 'See Other');
    answer = {
      id: state.nextId++,
      node_id: 'MDE2OkdhdGVCcmFuY2hQb2xpY3kzNjE0NzE=',
      name: body.name,
      type: body.type ?? 'branch',
    };
    env.branch_policies.push(answer);
  } else if (policies && id && method === 'DELETE') {
    const env = environment(name);
    const before = env.branch_policies.length;
    env.branch_policies = env.branch_policies.filter((p) => String(p.id) !== id);
    if (env.branch_policies.length === before) httpError(404, 'Not Found');
  } else {
    httpError(404, 'Not Found');
  }
  save();
  if (answer && !flags['--silent']) console.log(JSON.stringify(answer));
}

/** `gh variable|secret set|list|delete`, at repository level or in an environment (--env). */
function values(kind, verb, rest) {
  const { flags, positional } = parse(rest, ['--env', '--repo', '--json']);
  repoOf(flags);
  const store = flags['--env'] ? environment(flags['--env'])[`${kind}s`] : state[`${kind}s`];
  const name = positional[0];
  if (verb === 'set') {
    if (!name || stdin === '') httpError(422, 'a name and a value on stdin are needed');
    store[name] = stdin;
  } else if (verb === 'list') {
    if (flags['--json'] !== 'name') httpError(400, 'the stand-in answers only --json name');
    console.log(JSON.stringify(Object.keys(store).map((key) => ({ name: key }))));
  } else if (verb === 'delete') {
    if (!(name in store)) httpError(404, 'Not Found');
    delete store[name];
  } else {
    process.stderr.write(`unknown command "${verb}" for "gh ${kind}"\n`);
    process.exit(1);
  }
  save();
}

const [command, verb, ...rest] = args;
if (command === 'repo' && verb === 'view') repoView(rest);
else if (command === 'api') api([verb, ...rest]);
else if (command === 'variable' || command === 'secret') values(command, verb, rest);
else {
  process.stderr.write(`unknown command "${command}" for "gh"\n`);
  process.exit(1);
}
