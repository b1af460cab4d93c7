#!/usr/bin/env bash
# Copies a stack's outputs into the GitHub repository's Actions variables and secrets, which
# .github/workflows/deploy.yml reads. Prints the names it sets, never the values.
#
#   bash pulumi/scripts/github-secrets.sh [--stack NAME] [--env ENVIRONMENT] [--repo OWNER/REPO]
#
#   --stack  the Pulumi stack (default: the selected one)
#   --env    set them on this GitHub deployment environment, created if missing (use the
#            stack's name when more than one stack deploys from the repository); default:
#            repository level
#   --repo   the GitHub repository (default: the one gh finds from the current checkout)
#
# Needs pulumi (logged in to the stack's backend), gh (authenticated, admin on the repository)
# and node.
set -o errexit -o nounset -o pipefail

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

# Empty arrays expand with ${a[@]+"${a[@]}"}: bash 3.2 (macOS) calls a bare "${a[@]}" unbound.
stack_args=()
target_args=()
repo_args=()
environment=""
repository=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack) [[ $# -ge 2 ]] || usage; stack_args=(--stack "$2"); shift 2 ;;
    --env) [[ $# -ge 2 ]] || usage; environment="$2"; target_args=(--env "$2"); shift 2 ;;
    --repo) [[ $# -ge 2 ]] || usage; repository="$2"; repo_args=(--repo "$2"); shift 2 ;;
    *) usage ;;
  esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

for tool in pulumi gh node; do
  command -v "${tool}" >/dev/null || { echo "github-secrets: ${tool} is not installed" >&2; exit 69; }
done

# Stack output name -> GitHub variable name. sshPrivateKey is handled apart: it is a secret.
readonly VARIABLES=(
  ecrRepositoryUrl:ECR_REPOSITORY_URL
  awsRegion:AWS_REGION
  deployRoleArn:DEPLOY_ROLE_ARN
  sshHost:SSH_HOST
  sshUser:SSH_USER
  sshHostKey:SSH_HOST_KEY
  appUrl:APP_URL
)

outputs="$(pulumi stack output --json --show-secrets ${stack_args[@]+"${stack_args[@]}"})"

# Prints one output's value from the JSON on stdin; exits 3 if the stack has no such output.
output_value() {
  node -e '
    const outputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const value = outputs[process.argv[1]];
    if (value === undefined || value === null) process.exit(3);
    process.stdout.write(typeof value === "string" ? value : JSON.stringify(value));
  ' "$1"
}

if [[ -n "${environment}" ]]; then
  repo="$(gh repo view ${repository:+"${repository}"} --json nameWithOwner --jq .nameWithOwner)"
  gh api --method PUT "repos/${repo}/environments/${environment}" --silent
  echo "environment ${environment} ready on ${repo}"
fi

for pair in "${VARIABLES[@]}"; do
  output="${pair%%:*}"
  name="${pair#*:}"
  value="$(output_value "${output}" <<<"${outputs}")" ||
    { echo "github-secrets: the stack has no output ${output}" >&2; exit 1; }
  # The value goes through stdin, never the command line.
  printf '%s' "${value}" | gh variable set "${name}" \
    ${target_args[@]+"${target_args[@]}"} ${repo_args[@]+"${repo_args[@]}"}
  echo "set variable ${name} (from ${output})"
done

if key="$(output_value sshPrivateKey <<<"${outputs}")"; then
  # $(...) dropped the key's final newline, which OpenSSH wants back.
  printf '%s\n' "${key}" | gh secret set SSH_PRIVATE_KEY \
    ${target_args[@]+"${target_args[@]}"} ${repo_args[@]+"${repo_args[@]}"}
  echo "set secret SSH_PRIVATE_KEY (from sshPrivateKey)"
else
  echo "no sshPrivateKey output (the stack uses reflex:sshPublicKey): set the secret SSH_PRIVATE_KEY" \
    "yourself, e.g. gh secret set SSH_PRIVATE_KEY ${target_args[*]+${target_args[*]} }< ~/.ssh/reflex_deploy"
fi
