#!/usr/bin/env bats
# ci/plan.sh: which environment and commit the deploy workflow acts on.

sha=0123456789abcdef0123456789abcdef01234567
plan() { env -i PATH="$PATH" "$@" "$BATS_TEST_DIRNAME/../ci/plan.sh"; }

@test "a push to main deploys that commit to dev" {
  run plan EVENT=push REF_NAME=main SHA=$sha
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'environment=dev\nsha=%s\npromote=false\nrollback=false' "$sha")" ]
}

@test "a push to another branch deploys nothing unless it is an environment's branch" {
  run plan EVENT=push REF_NAME=feature/x SHA=$sha
  [ "${lines[0]}" = "environment=" ]
  run plan EVENT=push REF_NAME=release SHA=$sha DEV_BRANCH=main PROD_BRANCH=release
  [ "${lines[0]}" = "environment=prod" ]
  run plan EVENT=push REF_NAME=develop SHA=$sha DEV_BRANCH=develop
  [ "${lines[0]}" = "environment=dev" ]
}

@test "a dispatch to prod is a promotion of the given SHA" {
  run plan EVENT=workflow_dispatch INPUT_ENVIRONMENT=prod INPUT_SHA=$sha
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'environment=prod\nsha=%s\npromote=true\nrollback=false' "$sha")" ]
  run plan EVENT=workflow_dispatch INPUT_ENVIRONMENT=dev INPUT_SHA=$sha
  [ "${lines[2]}" = "promote=false" ]
}

@test "bad input is named: environment, SHA, event" {
  run plan EVENT=workflow_dispatch INPUT_ENVIRONMENT=staging INPUT_SHA=$sha
  [ "$status" -eq 64 ]
  [[ $output == *"environment must be dev or prod, got 'staging'"* ]]
  run plan EVENT=workflow_dispatch INPUT_ENVIRONMENT=prod INPUT_SHA=main
  [[ $output == *"sha must be a full 40-hex commit SHA, got 'main'"* ]]
  run plan EVENT=pull_request
  [[ $output == *"EVENT must be push or workflow_dispatch, got 'pull_request'"* ]]
  run plan EVENT=push REF_NAME=main SHA='$(id)'
  [ "$status" -eq 64 ]
}
