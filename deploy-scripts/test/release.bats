#!/usr/bin/env bats
# The release scripts against a stub engine (test/stub): history at scale, pins, the lock
# around reconcile, and deploy ordering.

load helpers
bats_require_minimum_version 1.5.0

setup() { setup_stub_host; load_config; }
teardown() { teardown_common; }

sha_a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
sha_b=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
sha_c=cccccccccccccccccccccccccccccccccccccccc

@test "kept_shas never dies of SIGPIPE under pipefail, with 300 releases in the history" {
  for i in $(seq 300); do
    jq -nc --arg sha "$(printf '%040x' "$i")" '{sha: $sha, outcome: "success"}'
  done >"$REFLEX_STATE_DIR/releases.jsonl"
  for _ in $(seq 30); do
    run bash -c "set -o errexit -o nounset -o pipefail; source '$SCRIPTS/lib/common.sh'; kept_shas 5"
    [ "$status" -eq 0 ]
    [ "${lines[*]}" = "$(printf '%040x ' 300 299 298 297 296 | sed 's/ $//')" ]
  done
}

@test "a newer deploy that succeeds ends a rollback pin" {
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")"
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_b")"
  "$SCRIPTS/rollback.sh"
  [ "$(served_now)" = "$sha_a" ]
  [ -f "$REFLEX_STATE_DIR/pinned" ]

  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_c")"
  [ "$status" -eq 0 ]
  [ "$(served_now)" = "$sha_c" ]
  [ ! -e "$REFLEX_STATE_DIR/pinned" ]
  grep -q "unpin (superseded by the deploy of $sha_c) sha=$sha_a" "$REFLEX_STATE_DIR/audit.log"
  grep -q '^reflex_host_pinned 0$' "$REFLEX_TEXTFILE_DIR/reflex_host.prom"
}

@test "reconcile.sh on a pinned host says so as a warning naming the pin and how to lift it" {
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")"
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_b")"
  "$SCRIPTS/rollback.sh"
  run "$SCRIPTS/reconcile.sh"
  [ "$status" -eq 0 ]
  [[ $output == *"WARNING: pinned to $sha_a by rollback.sh"*"rollback.sh --unpin"* ]]
  [ "$(served_now)" = "$sha_a" ]
}

@test "reconcile.sh --reset applies a changed app.env: the desired release restarts with it" {
  echo 'REFLEX_LOG_LEVEL=info' >"$REFLEX_APP_ENV_FILE"
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")"
  echo 'REFLEX_LOG_LEVEL=debug' >"$REFLEX_APP_ENV_FILE"
  run "$SCRIPTS/reconcile.sh" --reset
  [ "$status" -eq 0 ]
  [ "$(served_now)" = "$sha_a" ]
  live=$(read_kv "$REFLEX_STATE_DIR/live" container)
  grep -qx 'REFLEX_LOG_LEVEL=debug' "$STUB_ENGINE_DIR/containers/$live/env"
}

@test "reconcile.sh waits for a deploy's lock within its bound, then runs" {
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")"
  bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock deploy.sh x 0; sleep 2" &
  for _ in $(seq 50); do [ -f "$REFLEX_STATE_DIR/lock/holder" ] && break; sleep 0.1; done
  run env REFLEX_RECONCILE_LOCK_WAIT=20 "$SCRIPTS/reconcile.sh"
  wait
  [ "$status" -eq 0 ]
  [[ $output == *"in sync: $sha_a serves"* ]]
}

@test "reconcile.sh gives up after its bound, naming the holder" {
  bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock deploy.sh x 0; sleep 4" &
  for _ in $(seq 50); do [ -f "$REFLEX_STATE_DIR/lock/holder" ] && break; sleep 0.1; done
  run env REFLEX_RECONCILE_LOCK_WAIT=1 "$SCRIPTS/reconcile.sh"
  wait
  [ "$status" -eq 75 ]
  [[ $output == *"deploy lock held by holder=deploy.sh"*"(waited 1 s)"* ]]
}

@test "deploy.sh --expect-live refuses, with exit 65 and both SHAs, when another SHA is live" {
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")"
  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_c")" --expect-live "$sha_b"
  [ "$status" -eq 65 ]
  [[ $output == *"the live release is $sha_a, not the expected $sha_b"* ]]
  [ "$(served_now)" = "$sha_a" ]
  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_c")" --expect-live none
  [ "$status" -eq 65 ]
  [[ $output == *"the live release is $sha_a, not the expected none"* ]]
  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_c")" --expect-live "$sha_a"
  [ "$status" -eq 0 ]
  [ "$(served_now)" = "$sha_c" ]
}

@test "deploy.sh --expect-live none deploys the first release; a bad value is a usage error" {
  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")" --expect-live none
  [ "$status" -eq 0 ]
  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_b")" --expect-live abc
  [ "$status" -eq 64 ]
  [[ $output == *"--expect-live takes a full commit SHA or none, got 'abc'"* ]]
  run "$SCRIPTS/deploy.sh" "$(publish_image "$sha_b")" --expect-live
  [ "$status" -eq 64 ]
}
