#!/usr/bin/env bash
# Decides what the deploy workflow does for an event: which environment, which commit, and
# whether that commit still needs the test gate. Prints KEY=value lines (for $GITHUB_OUTPUT);
# `environment=` empty means "nothing to deploy".
#
#   plan.sh    reads EVENT (push | workflow_dispatch), REF_NAME, SHA (the pushed commit),
#              INPUT_ENVIRONMENT and INPUT_SHA (dispatch), DEV_BRANCH (default main),
#              PROD_BRANCH (empty: prod is only ever promoted by dispatch)
set -o errexit -o nounset -o pipefail

if [[ $# -ne 0 ]]; then
  printf 'usage: %s\n' "plan.sh   (no arguments; settings from the environment, see the header)" >&2
  exit 64
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source ../lib/common.sh
REFLEX_SCRIPT=plan.sh

: "${EVENT:?EVENT is required}" "${SHA:=}" "${REF_NAME:=}" "${INPUT_ENVIRONMENT:=}" "${INPUT_SHA:=}"
dev_branch=${DEV_BRANCH:-main}
prod_branch=${PROD_BRANCH:-}

case $EVENT in
  push)
    is_sha "$SHA" || die "SHA must be the pushed commit's full SHA, got '$SHA'" 64
    environment=""
    [[ $REF_NAME == "$dev_branch" ]] && environment=dev
    [[ -n $prod_branch && $REF_NAME == "$prod_branch" ]] && environment=prod
    printf 'environment=%s\nsha=%s\npromote=false\n' "$environment" "$SHA"
    ;;
  workflow_dispatch)
    [[ $INPUT_ENVIRONMENT == dev || $INPUT_ENVIRONMENT == prod ]] ||
      die "environment must be dev or prod, got '$INPUT_ENVIRONMENT'" 64
    is_sha "$INPUT_SHA" || die "sha must be a full 40-hex commit SHA, got '$INPUT_SHA'" 64
    # Promoting to prod by hand is only for a commit that is already live on dev.
    promote=false
    [[ $INPUT_ENVIRONMENT == prod ]] && promote=true
    printf 'environment=%s\nsha=%s\npromote=%s\n' "$INPUT_ENVIRONMENT" "$INPUT_SHA" "$promote"
    ;;
  *) die "EVENT must be push or workflow_dispatch, got '$EVENT'" 64 ;;
esac
