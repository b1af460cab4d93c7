#!/usr/bin/env bash
# Prints `image=<repository>@sha256:<digest>`: the image an ECR repository holds under tag SHA
# (tags are immutable, so a SHA names one digest for good). With --if-present, prints
# `image=` when there is none; without it, that is an error.
#
#   image-digest.sh REPOSITORY_URL SHA [--if-present]     needs AWS credentials (aws CLI)
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init image-digest.sh "image-digest.sh REPOSITORY_URL SHA [--if-present]"
[[ $# -ge 2 && $# -le 3 && ($# -eq 2 || $3 == --if-present) ]] || usage

repository_url=$1 sha=$2 optional=${3:-}
[[ $repository_url =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+$ ]] ||
  die "not a repository URL (registry/name): '$repository_url'" 64
is_sha "$sha" || die "not a full commit SHA: '$sha'" 64
require_commands aws

digest=$(aws ecr describe-images --repository-name "${repository_url#*/}" \
  --image-ids "imageTag=$sha" --query 'imageDetails[0].imageDigest' --output text 2>/dev/null) || digest=""
if [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
  log "$repository_url:$sha is $digest"
  printf 'image=%s@%s\n' "$repository_url" "$digest"
elif [[ -n $optional ]]; then
  log "$repository_url has no image tagged $sha"
  printf 'image=\n'
else
  die "$repository_url has no image tagged $sha"
fi
