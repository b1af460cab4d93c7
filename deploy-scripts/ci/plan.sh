#!/usr/bin/env bash
# Decides what the deploy workflow does for an event: which environment, which commit, whether
# it is a promotion (prod takes dev's tested image) or an explicit rollback (no tests, no
# build). Prints KEY=value lines (for $GITHUB_OUTPUT); `environment=` empty means "nothing to
# deploy". Bad input fails, naming it: the workflow runs this under pipefail.
#
#   plan.sh    reads EVENT (push | workflow_dispatch), REF_NAME, SHA (the pushed commit),
#              INPUT_ENVIRONMENT, INPUT_SHA and INPUT_ROLLBACK (dispatch), DEV_BRANCH (default
#              main), PROD_BRANCH (empty: prod is only ever promoted by dispatch)
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init plan.sh "plan.sh   (no arguments; settings from the environment, see the header)"
[[ $# -eq 0 ]] || usage

: "${EVENT:?EVENT is required}" "${SHA:=}" "${REF_NAME:=}" "${INPUT_ENVIRONMENT:=}" "${INPUT_SHA:=}"
: "${INPUT_ROLLBACK:=false}"
dev_branch=${DEV_BRANCH:-main}
prod_branch=${PROD_BRANCH:-}

case $EVENT in
  push)
    is_sha "$SHA" || die "SHA must be the pushed commit's full SHA, got '$SHA'" 64
    environment=""
    [[ $REF_NAME == "$dev_branch" ]] && environment=dev
    [[ -n $prod_branch && $REF_NAME == "$prod_branch" ]] && environment=prod
    printf 'environment=%s\nsha=%s\npromote=false\nrollback=false\n' "$environment" "$SHA"
    ;;
  workflow_dispatch)
    [[ $INPUT_ENVIRONMENT == dev || $INPUT_ENVIRONMENT == prod ]] ||
      die "environment must be dev or prod, got '$INPUT_ENVIRONMENT'" 64
    is_sha "$INPUT_SHA" || die "sha must be a full 40-hex commit SHA, got '$INPUT_SHA'" 64
    [[ $INPUT_ROLLBACK == true || $INPUT_ROLLBACK == false ]] ||
      die "rollback must be true or false, got '$INPUT_ROLLBACK'" 64
    # Deploying to prod by hand is a promotion of a commit that is live on dev, unless it is
    # a rollback to a release prod ran before.
    promote=false
    [[ $INPUT_ENVIRONMENT == prod && $INPUT_ROLLBACK == false ]] && promote=true
    printf 'environment=%s\nsha=%s\npromote=%s\nrollback=%s\n' "$INPUT_ENVIRONMENT" "$INPUT_SHA" "$promote" "$INPUT_ROLLBACK"
    ;;
  *) die "EVENT must be push or workflow_dispatch, got '$EVENT'" 64 ;;
esac
