# shellcheck shell=bash
# A release: the steps of deploy.sh, shared with rollback.sh and reconcile.sh. The release in
# progress is one associative array (image, digest, sha, color, started_ns, started_at, mode),
# passed by name to each step.

# Deploy image $1 blue/green (the caller holds the lock); mode $2: desired, rollback or reconcile.
release() {
  local -A rel=([image]=$1 [mode]=$2 [sha]="" [color]="" [digest]="$(image_digest "$1")"
    [started_ns]="$(date +%s%N)" [started_at]="$(date -u +%FT%T.%3NZ)")
  local sha switch_seconds
  log "pulling ${rel[image]}"
  pull_image "${rel[image]}" || fail_release rel "could not pull ${rel[image]}"
  sha=$(image_revision "${rel[image]}")
  is_sha "$sha" || fail_release rel "image ${rel[image]} has no commit SHA in its org.opencontainers.image.revision label (got '$sha')"
  rel[sha]=$sha
  rel[color]=$(other_color "$(edge_color)")
  start_release rel
  switch_edge "${rel[color]}"
  switch_seconds=$(seconds_since_ns "${rel[started_ns]}")
  log "switched to ${rel[color]} ($sha) after ${switch_seconds} s"
  record_live rel
  retire_color "$(other_color "${rel[color]}")"
  append_release "$(date -u +%FT%T.%3NZ)" "$sha" "${rel[image]}" "${rel[digest]}" "${rel[color]}" success \
    "$(seconds_since_ns "${rel[started_ns]}")" "$switch_seconds" "$(invoking_user)" "${rel[started_at]}"
  audit "release sha=$sha image=${rel[image]} color=${rel[color]} outcome=success mode=${rel[mode]}"
  # A newer deploy is the operator's new intent: the rollback pin it replaces ends with it.
  if [[ ${rel[mode]} == desired ]]; then end_pin "superseded by the deploy of $sha"; fi
  write_host_metrics
  prune_releases >/dev/null
  log "release $sha is live on ${rel[color]}"
}

# Start release $1 (the name of its array) on its color, and wait until it is healthy.
start_release() {
  local -n started=$1
  local name port args
  name=$(container_name "${started[sha]}" "${started[color]}")
  port=$(color_port "${started[color]}")
  log "release ${started[sha]}: starting $name on 127.0.0.1:$port (the edge serves $(edge_color) now)"
  stop_color "${started[color]}"
  engine rm --force "$name" >/dev/null 2>&1 || true
  if port_answers "$port"; then
    fail_release "$1" "port $port (${started[color]}) is in use by something that is not a container of this service"
  fi
  mapfile -t args < <(container_run_args "${started[sha]}" "${started[image]}" "${started[color]}")
  engine "${args[@]}" >/dev/null || fail_release "$1" "could not start $name"
  if ! wait_healthy "$port" "$REFLEX_HEALTH_TIMEOUT" "$name"; then
    engine logs --tail 20 "$name" >&2 2>&1 || true
    # Removed, not only stopped: a container that exited on its own may be restarting under its
    # restart policy, and a stop racing that restart can leave it running (podman) or let the
    # daemon start it again at boot (docker). Its last lines are above; its image stays.
    engine rm --force "$name" >/dev/null 2>&1 || true
    fail_release "$1" "$name did not become healthy; the live release keeps serving"
  fi
}

# Record release $1 (the name of its array) as live; as desired too when its mode is desired.
record_live() {
  local -n live_rel=$1
  local port
  port=$(color_port "${live_rel[color]}")
  printf 'sha=%s\nimage=%s\ncolor=%s\nport=%s\ncontainer=%s\nsince=%s\n' \
    "${live_rel[sha]}" "${live_rel[image]}" "${live_rel[color]}" "$port" \
    "$(container_name "${live_rel[sha]}" "${live_rel[color]}")" "$(now_seconds)" | write_atomic "$REFLEX_STATE_DIR/live"
  file_sd_json "$port" "${live_rel[sha]}" "${live_rel[color]}" | write_atomic "$REFLEX_FILE_SD"
  if [[ ${live_rel[mode]} == desired ]]; then
    printf 'image=%s\nsha=%s\nat=%s\n' "${live_rel[image]}" "${live_rel[sha]}" "$(now_seconds)" | write_atomic "$REFLEX_STATE_DIR/desired"
  fi
}

# Let color $1 finish its in-flight requests, then stop it (kept, stopped, for rollback).
retire_color() {
  if [[ -n $(service_containers --filter "label=io.reflex.color=$1" --filter status=running) ]]; then
    log "draining $1 for ${REFLEX_DRAIN_SECONDS} s, then stopping it"
    sleep "$REFLEX_DRAIN_SECONDS"
  fi
  stop_color "$1"
}

# Record release $1 (the name of its array) as failed (history, audit, metrics); exit 1 with message $2.
fail_release() {
  local -n failed=$1
  append_release "$(date -u +%FT%T.%3NZ)" "${failed[sha]:-unknown}" "${failed[image]}" "${failed[digest]}" \
    "${failed[color]}" failed "$(seconds_since_ns "${failed[started_ns]}")" "" "$(invoking_user)" "${failed[started_at]}"
  audit "release sha=${failed[sha]:-unknown} image=${failed[image]} outcome=failed reason=\"$2\""
  write_host_metrics
  die "$2"
}
