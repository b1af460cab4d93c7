#!/usr/bin/env bats
# Pure functions and the lock of deploy-scripts/lib/common.sh.

load helpers
bats_require_minimum_version 1.5.0

setup() { setup_common; RELEASES=""; }
teardown() { teardown_common; }

sha_a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
sha_b=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
sha_c=cccccccccccccccccccccccccccccccccccccccc
digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

@test "load_env_file exports KEY=value lines, skips comments, strips quotes, and keeps the environment's values" {
  printf '# comment\n\nCONTAINER_ENGINE=podman\nREFLEX_BLUE_PORT=9001\n  QUOTED="a b"\nSINGLE='"'"'c'"'"'\n' >"$TMP/env"
  load_env_file "$TMP/env"
  [ "$CONTAINER_ENGINE" = podman ]
  [ "$REFLEX_BLUE_PORT" = 8081 ]
  [ "$QUOTED" = "a b" ]
  [ "$SINGLE" = c ]
}

@test "load_env_file names the file and line of a malformed line and exits 78" {
  printf 'GOOD=1\nthis is not a setting\n' >"$TMP/env"
  run load_env_file "$TMP/env"
  [ "$status" -eq 78 ]
  [[ $output == *"$TMP/env:2: not a KEY=value line: this is not a setting"* ]]
}

@test "load_config rejects a bad port, an equal blue and green, and an unknown engine, naming the key" {
  run bash -c "source '$SCRIPTS/lib/common.sh'; REFLEX_GREEN_PORT=99999 load_config"
  [ "$status" -eq 78 ]
  [[ $output == *"REFLEX_GREEN_PORT must be a TCP port (1-65535), got '99999'"* ]]
  run bash -c "source '$SCRIPTS/lib/common.sh'; REFLEX_GREEN_PORT=8081 load_config"
  [[ $output == *"REFLEX_BLUE_PORT and REFLEX_GREEN_PORT must differ"* ]]
  run bash -c "source '$SCRIPTS/lib/common.sh'; CONTAINER_ENGINE=lxc load_config"
  [[ $output == *"CONTAINER_ENGINE must be docker or podman, got 'lxc'"* ]]
  run bash -c "source '$SCRIPTS/lib/common.sh'; REFLEX_EDGE_LISTEN=0.0.0.0:x load_config"
  [[ $output == *"REFLEX_EDGE_LISTEN must be PORT or ADDRESS:PORT"* ]]
}

@test "load_config reads the settings file and applies the documented defaults" {
  printf 'CONTAINER_ENGINE=podman\nREFLEX_KEEP_RELEASES=3\n' >"$REFLEX_DEPLOY_ENV"
  unset CONTAINER_ENGINE REFLEX_KEEP_RELEASES
  load_config
  [ "$CONTAINER_ENGINE" = podman ]
  [ "$REFLEX_KEEP_RELEASES" = 3 ]
  [ "$REFLEX_HEALTH_TIMEOUT" = 30 ]
  [ "$REFLEX_TEXTFILE_DIR" = "$REFLEX_STATE_DIR/textfile" ]
}

@test "is_image_ref accepts references by tag or digest and refuses the rest" {
  is_image_ref "123456789012.dkr.ecr.eu-west-1.amazonaws.com/reflex@$digest"
  is_image_ref "127.0.0.1:5000/reflex:$sha_a"
  is_image_ref "localhost/reflex:test"
  is_image_ref "reg.example/team/reflex:v1@$digest"
  run ! is_image_ref "reflex"
  run ! is_image_ref "reg.example/reflex"
  run ! is_image_ref "Reg.example/reflex:1"
  run ! is_image_ref "reg.example/reflex:1; rm -rf /"
  run ! is_image_ref "reg.example/reflex@sha256:1234"
  run ! is_image_ref ""
}

@test "is_sha accepts full SHA-1 and SHA-256 commit ids only" {
  is_sha "$sha_a"
  is_sha "$(printf 'a%.0s' {1..64})"
  run ! is_sha "${sha_a:0:39}"
  run ! is_sha "${sha_a^^}"
  run ! is_sha "unknown"
}

@test "colors, ports and names" {
  [ "$(other_color blue)" = green ]
  [ "$(other_color green)" = blue ]
  run other_color red
  [ "$status" -eq 1 ]
  [ "$(color_port blue)" = 8081 ]
  [ "$(color_port green)" = 8082 ]
  [ "$(container_name "$sha_a" green)" = reflex-green-aaaaaaaaaaaa ]
  [ "$(image_digest "reg/reflex@$digest")" = "$digest" ]
  [ -z "$(image_digest reg/reflex:tag)" ]
}

@test "the edge switch: blue without the switch file, green with it, flipped atomically" {
  [ "$(edge_color)" = blue ]
  [ "$(edge_port)" = 8081 ]
  switch_edge green
  [ "$(edge_color)" = green ]
  [ "$(edge_port)" = 8082 ]
  [ "$(find "$(dirname "$REFLEX_EDGE_SWITCH")" -name '*.tmp.*' | wc -l)" -eq 0 ]
  switch_edge blue
  [ ! -e "$REFLEX_EDGE_SWITCH" ]
  [ "$(edge_color)" = blue ]
  run switch_edge red
  [ "$status" -eq 1 ]
}

@test "container_run_args builds the engine's run command: app data at /data, the app env file when present" {
  load_config
  CONTAINER_ENGINE=podman REFLEX_STOP_TIMEOUT=30 REFLEX_APP_PORT=3000
  mapfile -t args < <(container_run_args "$sha_a" "reg/reflex@$digest" green)
  expected=(run --detach --name reflex-green-aaaaaaaaaaaa --label io.reflex.service=reflex
    --label "io.reflex.sha=$sha_a" --label io.reflex.color=green --label io.reflex.role=platform
    --label "io.reflex.image=reg/reflex@$digest" --restart unless-stopped --stop-timeout 30
    --network reflex-platform --publish 127.0.0.1:8082:3000 --env PORT=3000
    --env REFLEX_SHUTDOWN_TIMEOUT_MS=30000 --volume "$REFLEX_APP_DATA_DIR:/data" "reg/reflex@$digest")
  [ "${args[*]}" = "${expected[*]}" ]
  touch "$REFLEX_APP_ENV_FILE"
  mapfile -t args < <(container_run_args "$sha_a" "reg/reflex@$digest" blue)
  [ "${args[-3]}" = --env-file ]
  [ "${args[-2]}" = "$REFLEX_APP_ENV_FILE" ]
  [ "${args[-1]}" = "reg/reflex@$digest" ]
}

@test "site_container_run_args: the site's own user, read-only, no capability, bounded, no env file, no volume" {
  load_config
  CONTAINER_ENGINE=podman REFLEX_STOP_TIMEOUT=30 REFLEX_APP_PORT=3000
  touch "$REFLEX_APP_ENV_FILE"
  mapfile -t args < <(site_container_run_args "$sha_a" "reg/reflex@$digest" green 2026-01-01T00:00:00Z)
  [ "$(container_name "$sha_a" green site)" = reflex-site-green-aaaaaaaaaaaa ]
  [[ " ${args[*]} " == *" --name reflex-site-green-aaaaaaaaaaaa "* ]]
  [[ " ${args[*]} " == *" --label io.reflex.role=site "* ]]
  [[ " ${args[*]} " == *" --user 65534:65534 --read-only --cap-drop ALL --security-opt no-new-privileges "* ]]
  [[ " ${args[*]} " == *" --pids-limit 64 --memory 256m --memory-swap 256m "* ]]
  [[ " ${args[*]} " == *" --read-only-tmpfs=false "* ]]
  [[ " ${args[*]} " == *" --network reflex-site --publish 127.0.0.1:8092:3000 "* ]]
  [[ " ${args[*]} " != *" --env-file "* && " ${args[*]} " != *" --volume "* ]]
  # The image, then the site's command under Node's permission model.
  [[ " ${args[*]} " == *" reg/reflex@$digest node --permission --allow-fs-read=/app/webapp/site --allow-fs-read=/app/webapp/dist webapp/dist/site.js " ]]
  mapfile -t envs < <(printf '%s\n' "${args[@]}" | awk 'prev == "--env" { print } { prev = $0 }')
  [ "${envs[*]}" = "PORT=3000 HOST=0.0.0.0 REFLEX_SHA=$sha_a REFLEX_BUILT_AT=2026-01-01T00:00:00Z" ]
}

@test "site settings: only REFLEX_SITE_* keys of site.env reach the site; any other key is refused naming its line" {
  printf '# public\nREFLEX_SITE_TITLE="Hello there"\n\nREFLEX_SITE_FLAG=1\n' >"$REFLEX_SITE_ENV_FILE"
  run site_settings_args "$REFLEX_SITE_ENV_FILE"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf -- '--env\nREFLEX_SITE_TITLE=Hello there\n--env\nREFLEX_SITE_FLAG=1')" ]
  printf 'REFLEX_SITE_TITLE=x\nREFLEX_SESSION_SECRET=hush\n' >"$REFLEX_SITE_ENV_FILE"
  run site_settings_args "$REFLEX_SITE_ENV_FILE"
  [ "$status" -eq 78 ]
  [[ $output == *"site.env:2: REFLEX_SESSION_SECRET is not a public site setting"* ]]
  [[ $output != *hush* ]]
  rm "$REFLEX_SITE_ENV_FILE"
  run site_settings_args "$REFLEX_SITE_ENV_FILE"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "file_sd_json lists the live platform and site for Prometheus" {
  run file_sd_json 8081 8091 "$sha_a" blue
  [ "$(jq -c . <<<"$output")" = '[{"targets":["127.0.0.1:8081"],"labels":{"service":"reflex","sha":"'"$sha_a"'","color":"blue","component":"platform"}},{"targets":["127.0.0.1:8091"],"labels":{"service":"reflex","sha":"'"$sha_a"'","color":"blue","component":"site"}}]' ]
}

@test "release history: kept_shas, previous_release_sha and resolve_release_sha" {
  add_release "$sha_a" success
  add_release "$sha_b" success
  add_release "$sha_c" failed
  add_release "$sha_a" success
  [ "$(kept_shas 5 | tr '\n' ' ')" = "$sha_a $sha_b " ]
  [ "$(kept_shas 1)" = "$sha_a" ]
  [ "$(previous_release_sha "$sha_a")" = "$sha_b" ]
  [ "$(resolve_release_sha bbbbbbb)" = "$sha_b" ]
  run resolve_release_sha ccccccc
  [ "$status" -eq 64 ]
  [[ $output == *"'ccccccc' matches 0 released SHAs"* ]]
  run resolve_release_sha xyz
  [ "$status" -eq 64 ]
  [[ $output == *"not a commit SHA: 'xyz'"* ]]
}

@test "host_metrics_text counts deploys by result from the history" {
  add_release "$sha_a" success
  add_release "$sha_b" failed
  add_release "$sha_a" success
  run host_metrics_text "$sha_a" green 1
  [[ $output == *'reflex_host_deploys_total{result="success"} 2'* ]]
  [[ $output == *'reflex_host_deploys_total{result="failed"} 1'* ]]
  [[ $output == *"reflex_host_deploy_duration_seconds 1.5"* ]]
  [[ $output == *'reflex_host_last_deploy_timestamp_seconds{result="success"} 1767225602'* ]]
  [[ $output == *"reflex_release_info{sha=\"$sha_a\",color=\"green\"} 1"* ]]
  [[ $output == *"reflex_host_pinned 1"* ]]
}

@test "write_atomic replaces a file in one rename and leaves no temp file" {
  echo old >"$TMP/target"
  echo new | write_atomic "$TMP/target"
  [ "$(cat "$TMP/target")" = new ]
  [ "$(find "$TMP" -name 'target.tmp.*' | wc -l)" -eq 0 ]
}

@test "the lock: taken with a holder file, refused to a second taker naming the holder, released on exit" {
  run bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock 'first(ci)' 'reg/reflex:1' 0; cat \"\$(lock_dir)/holder\"; sleep 3" &
  for _ in $(seq 50); do [ -f "$REFLEX_STATE_DIR/lock/holder" ] && break; sleep 0.1; done
  grep -q '^holder=first(ci) release=reg/reflex:1 pid=[0-9]* since=' "$REFLEX_STATE_DIR/lock/holder"
  run bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock second '' 1"
  [ "$status" -eq 75 ]
  [[ $output == *"deploy lock held by holder=first(ci) release=reg/reflex:1"*"(waited 1 s)"* ]]
  wait
  [ ! -d "$REFLEX_STATE_DIR/lock" ]
}

@test "the lock: a holder that died is broken and recorded in the audit log" {
  mkdir "$REFLEX_STATE_DIR/lock"
  bash -c 'exit 0' & dead=$!; wait "$dead"
  echo "holder=crashed release=- pid=$dead since=2026-01-01T00:00:00Z" >"$REFLEX_STATE_DIR/lock/holder"
  run bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock next '' 2; cat \"\$(lock_dir)/holder\""
  [ "$status" -eq 0 ]
  [[ $output == *"holder=next"* ]]
  grep -q "lock-broken holder=crashed" "$REFLEX_STATE_DIR/audit.log"
}

@test "the lock: a lock whose holder file is not written yet is not taken for stale" {
  mkdir "$REFLEX_STATE_DIR/lock"
  run bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock next '' 1"
  [ "$status" -eq 75 ]
  [[ $output == *"holder file not written yet"* ]]
  [ -d "$REFLEX_STATE_DIR/lock" ]
}
