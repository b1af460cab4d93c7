#!/usr/bin/env bash
# Copies a stack's outputs into the stack's GitHub deployment environment, which the deploy
# workflow's jobs name (the deploy role trusts nothing else). Creates the environment with a
# deployment-branch policy (only the stack's deployBranch deploys there), sets every value as an
# environment variable (the deploy key as an environment secret), removes the ones this stack
# no longer has, and removes the repository-level copies earlier versions of this script set.
# Prints the names it sets, never the values.
#
#   bash pulumi/scripts/github-secrets.sh [--stack NAME] [--env ENVIRONMENT] [--repo OWNER/REPO]
#
#   --stack  the Pulumi stack (default: the selected one)
#   --env    the GitHub environment (default: the stack's name, which the deploy role trusts)
#   --repo   the GitHub repository (default: the one gh finds from the current checkout)
#
# Needs pulumi (logged in to the stack's backend), gh (authenticated, admin on the repository)
# and node.
set -o errexit -o nounset -o pipefail

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

stack=""
environment=""
repository=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack) [[ $# -ge 2 ]] || usage; stack="$2"; shift 2 ;;
    --env) [[ $# -ge 2 ]] || usage; environment="$2"; shift 2 ;;
    --repo) [[ $# -ge 2 ]] || usage; repository="$2"; shift 2 ;;
    *) usage ;;
  esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

for tool in pulumi gh node; do
  command -v "${tool}" >/dev/null || { echo "github-secrets: ${tool} is not installed" >&2; exit 69; }
done

# Stack output -> environment variable. Every stack has these.
readonly REQUIRED=(
  runtime:RUNTIME awsRegion:AWS_REGION ecrRepositoryUrl:ECR_REPOSITORY_URL
  deployRoleArn:DEPLOY_ROLE_ARN appUrl:APP_URL imagePlatform:IMAGE_PLATFORM
)
# Those of one runtime or one setting; a variable whose output the stack lacks is removed.
readonly OPTIONAL=(
  editorUrl:EDITOR_URL promotionSourceRepositoryUrl:PROMOTION_SOURCE_REPOSITORY_URL
  hostInstanceId:HOST_INSTANCE_ID hostPrivateIp:HOST_PRIVATE_IP
  instanceConnectEndpointId:EIC_ENDPOINT_ID instanceConnectEndpointDnsName:EIC_ENDPOINT_DNS_NAME
  sshUser:SSH_USER sshHostKeyParameter:SSH_HOST_KEY_PARAMETER
  ecsCluster:ECS_CLUSTER ecsPlatformService:ECS_PLATFORM_SERVICE
  ecsPlatformTaskFamily:ECS_PLATFORM_TASK_FAMILY ecsSiteService:ECS_SITE_SERVICE
  ecsSiteTaskFamily:ECS_SITE_TASK_FAMILY
)
# What earlier versions set at repository level, or that no output fills any more.
readonly RETIRED_VARIABLES=(SSH_HOST SSH_HOST_KEY)
readonly SECRET=SSH_PRIVATE_KEY

# The stack's outputs, read once: names and base64 values in two lists (bash 3.2 has no maps).
output_names=()
output_values=()
read_outputs() {
  local name value
  while IFS=$'\t' read -r name value; do
    output_names+=("${name}")
    output_values+=("${value}")
  done < <(node -e '
    const outputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const [name, value] of Object.entries(outputs)) {
      if (value === null) continue;
      const text = typeof value === "string" ? value : JSON.stringify(value);
      console.log(name + "\t" + Buffer.from(text).toString("base64"));
    }')
}

# Prints one output's value; exits 3 if the stack has no such output.
output_value() {
  local i
  for i in "${!output_names[@]}"; do
    if [[ "${output_names[i]}" == "$1" ]]; then
      base64 --decode <<<"${output_values[i]}"
      return 0
    fi
  done
  return 3
}

# Prints the names in a `gh ... list --json name` answer, one a line.
names_of() { node -e 'for (const { name } of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(name)'; }

# Restricts the environment to the deploy branch: custom policies, exactly that one branch.
branch_policy() {
  local path="repos/${repo}/environments/${environment}" policies id name
  printf '%s' '{"deployment_branch_policy":{"protected_branches":false,"custom_branch_policies":true}}' |
    gh api --method PUT "${path}" --input - --silent
  policies="$(gh api "${path}/deployment-branch-policies")"
  node -e 'for (const p of JSON.parse(require("fs").readFileSync(0, "utf8")).branch_policies) console.log(p.id, p.name)' \
    <<<"${policies}" | while read -r id name; do
    [[ "${name}" == "${branch}" ]] || gh api --method DELETE "${path}/deployment-branch-policies/${id}" --silent
  done
  if ! node -e 'process.exit(JSON.parse(require("fs").readFileSync(0, "utf8")).branch_policies.some((p) => p.name === process.argv[1]) ? 0 : 1)' \
    "${branch}" <<<"${policies}"; then
    node -e 'console.log(JSON.stringify({ name: process.argv[1], type: "branch" }))' "${branch}" |
      gh api --method POST "${path}/deployment-branch-policies" --input - --silent
  fi
  echo "environment ${environment} on ${repo}: deploys from ${branch} only"
}

# Sets one environment variable; the value goes through stdin, never the command line.
set_variable() {
  printf '%s' "$2" | gh variable set "$1" --env "${environment}" --repo "${repo}"
  echo "set variable ${1} (from ${3})"
}

# Removes the variables (or secrets) named on stdin that exist at that level (--env E or none).
remove_existing() {
  local kind="$1" wanted existing where="repository level"
  shift
  [[ $# -eq 0 ]] || where="environment $2"
  wanted="$(cat)"
  existing="$(gh "${kind}" list "$@" --repo "${repo}" --json name | names_of)"
  for name in ${wanted}; do
    if grep -qxF "${name}" <<<"${existing}"; then
      gh "${kind}" delete "${name}" "$@" --repo "${repo}"
      echo "removed ${kind} ${name} (${where})"
    fi
  done
}

outputs="$(pulumi stack output --json --show-secrets ${stack:+--stack "${stack}"})"
read_outputs <<<"${outputs}"
[[ -n "${environment}" ]] || environment="${stack:-$(pulumi stack --show-name)}"
repo="$(gh repo view ${repository:+"${repository}"} --json nameWithOwner --jq .nameWithOwner)"
# Every output this needs must be there before anything on GitHub changes.
for output in deployBranch "${REQUIRED[@]%%:*}"; do
  output_value "${output}" >/dev/null ||
    { echo "github-secrets: the stack has no output ${output}" >&2; exit 1; }
done
branch="$(output_value deployBranch)"

branch_policy
unset_here=("${RETIRED_VARIABLES[@]}")
for pair in "${REQUIRED[@]}" "${OPTIONAL[@]}"; do
  output="${pair%%:*}"
  name="${pair#*:}"
  if value="$(output_value "${output}")"; then
    set_variable "${name}" "${value}" "${output}"
  else
    unset_here+=("${name}")
  fi
done
printf '%s\n' "${unset_here[@]}" | remove_existing variable --env "${environment}"

if key="$(output_value sshPrivateKey)"; then
  # $(...) dropped the key's final newline, which OpenSSH wants back.
  printf '%s\n' "${key}" | gh secret set "${SECRET}" --env "${environment}" --repo "${repo}"
  echo "set secret ${SECRET} (from sshPrivateKey)"
elif [[ "$(output_value runtime)" == host ]]; then
  echo "no sshPrivateKey output (the stack uses reflex:sshPublicKey): set the secret ${SECRET}" \
    "yourself: gh secret set ${SECRET} --env ${environment} --repo ${repo} < ~/.ssh/reflex_deploy"
else
  # The ecs runtime deploys without SSH: a key left from a host would only be a liability.
  echo "${SECRET}" | remove_existing secret --env "${environment}"
fi

# Values of an environment belong to it alone: no copy at repository level.
for pair in "${REQUIRED[@]}" "${OPTIONAL[@]}"; do echo "${pair#*:}"; done |
  cat - <(printf '%s\n' "${RETIRED_VARIABLES[@]}") | remove_existing variable
echo "${SECRET}" | remove_existing secret
