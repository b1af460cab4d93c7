#!/usr/bin/env bats
# Argument validation of every entry script: usage errors exit 64 before anything changes.

load helpers

setup() { setup_common; }
teardown() { teardown_common; }

sha=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa

@test "deploy.sh needs exactly one image reference" {
  run "$SCRIPTS/deploy.sh"
  [ "$status" -eq 64 ]
  [[ $output == "usage: deploy.sh IMAGE"* ]]
  run "$SCRIPTS/deploy.sh" a b
  [ "$status" -eq 64 ]
  run "$SCRIPTS/deploy.sh" "reg.example/reflex"
  [ "$status" -eq 64 ]
  [[ $output == *"not an image reference with a tag or digest: 'reg.example/reflex'"* ]]
  [ ! -e "$REFLEX_STATE_DIR/lock" ]
}

@test "rollback.sh takes at most one SHA or --unpin" {
  run "$SCRIPTS/rollback.sh" a b
  [ "$status" -eq 64 ]
  [[ $output == "usage: rollback.sh [SHA|--unpin]" ]]
  run "$SCRIPTS/rollback.sh" --pin
  [ "$status" -eq 64 ]
}

@test "reconcile.sh takes only --reset; cleanup.sh and install-host.sh take nothing" {
  run "$SCRIPTS/reconcile.sh" --force
  [ "$status" -eq 64 ]
  [[ $output == "usage: reconcile.sh [--reset]" ]]
  run "$SCRIPTS/cleanup.sh" now
  [ "$status" -eq 64 ]
  run "$SCRIPTS/install-host.sh" now
  [ "$status" -eq 64 ]
}

@test "a malformed settings file stops a script with exit 78, naming file and line" {
  printf 'CONTAINER_ENGINE docker\n' >"$REFLEX_DEPLOY_ENV"
  run "$SCRIPTS/cleanup.sh"
  [ "$status" -eq 78 ]
  [[ $output == *"$REFLEX_DEPLOY_ENV:1: not a KEY=value line"* ]]
}

@test "verify-version.sh checks its URL, SHA and timeout" {
  run "$SCRIPTS/ci/verify-version.sh" "ftp://x" "$sha"
  [ "$status" -eq 64 ]
  [[ $output == *"not an http(s) URL: 'ftp://x'"* ]]
  run "$SCRIPTS/ci/verify-version.sh" "http://127.0.0.1:1" "abc"
  [[ $output == *"not a full commit SHA: 'abc'"* ]]
  run "$SCRIPTS/ci/verify-version.sh" "http://127.0.0.1:1" "$sha" soon
  [[ $output == *"not a number of seconds: 'soon'"* ]]
}

@test "verify-version.sh fails after its timeout with what it saw last" {
  run "$SCRIPTS/ci/verify-version.sh" "http://127.0.0.1:1" "$sha" 0
  [ "$status" -eq 1 ]
  [[ $output == *"did not report $sha within 0 s (last seen: nothing)"* ]]
}

@test "pin-host-key.sh writes a known_hosts line for a pinned public key" {
  key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
  run "$SCRIPTS/ci/pin-host-key.sh" ec2.example 22 "$key" "$TMP/known_hosts"
  [ "$status" -eq 0 ]
  [ "$(cat "$TMP/known_hosts")" = "ec2.example $key" ]
  run "$SCRIPTS/ci/pin-host-key.sh" 127.0.0.1 2222 "[old]:22 $key comment" "$TMP/known_hosts"
  [ "$(cat "$TMP/known_hosts")" = "[127.0.0.1]:2222 $key" ]
}

@test "pin-host-key.sh refuses what is neither key nor fingerprint, and a bad port" {
  run "$SCRIPTS/ci/pin-host-key.sh" ec2.example 22 "trust me" "$TMP/known_hosts"
  [ "$status" -eq 1 ]
  [[ $output == *"neither a public key nor a SHA256: fingerprint"* ]]
  [ ! -e "$TMP/known_hosts" ]
  run "$SCRIPTS/ci/pin-host-key.sh" ec2.example 0 "SHA256:x" "$TMP/known_hosts"
  [ "$status" -eq 64 ]
}
