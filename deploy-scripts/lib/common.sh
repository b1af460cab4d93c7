# shellcheck shell=bash
# Shared functions of the deploy scripts. Sourced, never run. Functions that build a command or
# a file's text print it and change nothing, so that tests can compare them; the functions that
# act (engine, nginx, state files) are thin wrappers around those.
#
# Settings come from the environment, then from REFLEX_DEPLOY_ENV (default
# /etc/reflex/deploy.env, KEY=value lines), then from the defaults in load_config. The keys
# are documented in docs/HOST.md and deploy-scripts/README.md.

# ---------------------------------------------------------------------------------------------
# Messages

# Print a time-stamped message, prefixed with the running script's name, to stderr.
log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${REFLEX_SCRIPT:-deploy-scripts}" "$*" >&2; }

# Print an error and exit with status $2 (default 1).
die() { log "error: $1"; exit "${2:-1}"; }

# Print the usage line and exit 64 (EX_USAGE).
usage_error() { printf 'usage: %s\n' "$1" >&2; exit 64; }

# ---------------------------------------------------------------------------------------------
# Configuration

# Export every KEY=value line of file $1 that the environment does not already set.
load_env_file() {
  local file=$1 line key value number=0
  while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z $line || $line == \#* ]] && continue
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "$file:$number: not a KEY=value line: $line" 78
    key=${BASH_REMATCH[1]}
    value=$(strip_quotes "${BASH_REMATCH[2]}")
    [[ -n ${!key+set} ]] || export "$key=$value"
  done <"$file"
}

# Print $1 without one pair of matching surrounding quotes.
strip_quotes() {
  local v=$1
  if [[ ${#v} -ge 2 && ( ($v == \"*\" ) || ($v == \'*\') ) ]]; then v=${v:1:${#v}-2}; fi
  printf '%s' "$v"
}

# Read the settings file (if present), apply defaults, and validate the values.
load_config() {
  local env_file=${REFLEX_DEPLOY_ENV:-/etc/reflex/deploy.env}
  if [[ -f $env_file ]]; then load_env_file "$env_file"; fi
  : "${CONTAINER_ENGINE:=docker}"
  : "${REFLEX_IMAGE_REPOSITORY:=}"
  : "${REFLEX_DEPLOY_BRANCH:=main}"
  : "${REFLEX_BLUE_PORT:=8081}"
  : "${REFLEX_GREEN_PORT:=8082}"
  : "${REFLEX_APP_PORT:=3000}"
  : "${REFLEX_STATE_DIR:=/var/lib/reflex}"
  : "${REFLEX_TEXTFILE_DIR:=$REFLEX_STATE_DIR/textfile}"
  : "${REFLEX_FILE_SD:=$REFLEX_STATE_DIR/prometheus/app.json}"
  : "${REFLEX_APP_ENV_FILE:=/etc/reflex/app.env}"
  : "${REFLEX_APP_DATA_DIR:=$REFLEX_STATE_DIR/app}"
  : "${REFLEX_APP_UID:=1000}"
  : "${REFLEX_NGINX_CONF:=/etc/nginx/nginx.conf}"
  : "${REFLEX_NGINX_SITE:=/etc/nginx/conf.d/reflex.conf}"
  : "${REFLEX_EDGE_SWITCH:=$REFLEX_STATE_DIR/edge/live-green}"
  : "${REFLEX_EDGE_LISTEN:=80}"
  : "${REFLEX_SCRIPTS_DIR:=/opt/reflex/deploy-scripts}"
  : "${REFLEX_SYSTEMD_DIR:=/etc/systemd/system}"
  : "${REFLEX_HEALTH_TIMEOUT:=30}"
  : "${REFLEX_DRAIN_SECONDS:=5}"
  : "${REFLEX_STOP_TIMEOUT:=30}"
  : "${REFLEX_LOCK_TIMEOUT:=600}"
  : "${REFLEX_KEEP_RELEASES:=5}"
  export CONTAINER_ENGINE REFLEX_STATE_DIR REFLEX_TEXTFILE_DIR REFLEX_EDGE_SWITCH
  validate_config
}

# Check every numeric setting and the engine name; exit 78 naming the first bad key.
validate_config() {
  local key
  for key in REFLEX_BLUE_PORT REFLEX_GREEN_PORT REFLEX_APP_PORT; do
    is_port "${!key}" || die "$key must be a TCP port (1-65535), got '${!key}'" 78
  done
  if ! is_port "${REFLEX_EDGE_LISTEN##*:}" || ! [[ $REFLEX_EDGE_LISTEN =~ ^([0-9.]+:|\[[0-9a-f:]+\]:)?[0-9]+$ ]]; then
    die "REFLEX_EDGE_LISTEN must be PORT or ADDRESS:PORT, got '$REFLEX_EDGE_LISTEN'" 78
  fi
  for key in REFLEX_HEALTH_TIMEOUT REFLEX_DRAIN_SECONDS REFLEX_STOP_TIMEOUT REFLEX_LOCK_TIMEOUT REFLEX_KEEP_RELEASES; do
    [[ ${!key} =~ ^[0-9]+$ ]] || die "$key must be a whole number, got '${!key}'" 78
  done
  [[ $REFLEX_BLUE_PORT != "$REFLEX_GREEN_PORT" ]] || die "REFLEX_BLUE_PORT and REFLEX_GREEN_PORT must differ" 78
  [[ $REFLEX_KEEP_RELEASES -ge 1 ]] || die "REFLEX_KEEP_RELEASES must be at least 1" 78
  [[ $CONTAINER_ENGINE == docker || $CONTAINER_ENGINE == podman ]] ||
    die "CONTAINER_ENGINE must be docker or podman, got '$CONTAINER_ENGINE'" 78
}

# Fail naming every command in $@ that is not installed.
require_commands() {
  local missing=() cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
  [[ ${#missing[@]} -eq 0 ]] || die "missing commands: ${missing[*]}" 69
}

# ---------------------------------------------------------------------------------------------
# Pure checks and names

# True when $1 is a TCP port number.
is_port() { [[ $1 =~ ^[0-9]{1,5}$ && $1 -ge 1 && $1 -le 65535 ]]; }

# True when $1 is a full commit SHA (40 hex digits, or 64 for SHA-256 repositories).
is_sha() { [[ $1 =~ ^([0-9a-f]{40}|[0-9a-f]{64})$ ]]; }

# True when $1 names an image by tag or digest: registry/repository[:tag][@sha256:digest].
is_image_ref() {
  local name='[a-z0-9]+([._-][a-z0-9]+)*' tag='[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'
  local re="^($name(:[0-9]+)?/)?$name(/$name)*(:$tag)?(@sha256:[0-9a-f]{64})?$"
  [[ $1 =~ $re && ($1 == *@sha256:* || ${1##*/} == *:*) ]]
}

# Print the digest (sha256:...) in image reference $1, or nothing.
image_digest() { [[ $1 == *@sha256:* ]] && printf '%s' "${1##*@}"; return 0; }

# Print the other color: blue <-> green.
other_color() {
  case $1 in
    blue) echo green ;;
    green) echo blue ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Print the host port of color $1.
color_port() {
  case $1 in
    blue) echo "$REFLEX_BLUE_PORT" ;;
    green) echo "$REFLEX_GREEN_PORT" ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Print the container name of release $1 (SHA) on color $2.
container_name() { printf 'reflex-%s-%s' "$2" "${1:0:12}"; }

# Print the current time as whole seconds since the epoch.
now_seconds() { date +%s; }

# Print seconds (3 decimals) elapsed since nanosecond timestamp $1.
seconds_since_ns() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# ---------------------------------------------------------------------------------------------
# The deploy lock: an atomic mkdir, with a file naming the holder

# Print the lock folder.
lock_dir() { printf '%s/lock' "$REFLEX_STATE_DIR"; }

# Print the holder line for holder $1 and release $2.
lock_holder_line() {
  printf 'holder=%s release=%s pid=%s since=%s\n' "$1" "${2:--}" "$$" "$(date -u +%FT%TZ)"
}

# Take the lock for holder $1, release $2, waiting up to $3 seconds; fail naming the holder.
acquire_lock() {
  local holder=$1 release=$2 wait=$3 dir deadline
  dir=$(lock_dir)
  deadline=$(($(now_seconds) + wait))
  mkdir -p "$REFLEX_STATE_DIR"
  until mkdir "$dir" 2>/dev/null; do
    break_stale_lock "$dir" && continue
    if [[ $(now_seconds) -ge $deadline ]]; then
      die "deploy lock held by $(lock_holder "$dir") (waited ${wait} s)" 75
    fi
    sleep 0.2
  done
  lock_holder_line "$holder" "$release" >"$dir/holder"
  REFLEX_LOCK_HELD=$dir
  trap release_lock EXIT
}

# Print who holds the lock in folder $1.
lock_holder() { cat "$1/holder" 2>/dev/null || echo "unknown (holder file not written yet)"; }

# Remove lock folder $1 when the process that took it on this host is gone; true if removed.
# Serialised with flock, so that two waiters never both break it (and the second never removes
# a lock the first has just taken).
break_stale_lock() {
  (
    flock 9
    pid=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' "$1/holder" 2>/dev/null)
    if [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null; then exit 1; fi
    log "breaking a stale lock: $(lock_holder "$1")"
    audit "lock-broken $(lock_holder "$1")"
    rm -rf "$1"
  ) 9>"$REFLEX_STATE_DIR/.lock-break"
}

# Release the lock this process holds (the EXIT trap).
release_lock() {
  if [[ -n ${REFLEX_LOCK_HELD:-} ]]; then rm -rf "$REFLEX_LOCK_HELD"; REFLEX_LOCK_HELD=""; fi
}

# ---------------------------------------------------------------------------------------------
# Host state: audit log, release history, key=value files

# Append one line to the audit log: time, who, what.
audit() {
  mkdir -p "$REFLEX_STATE_DIR"
  printf '%s user=%s %s\n' "$(date -u +%FT%TZ)" "$(invoking_user)" "$*" >>"$REFLEX_STATE_DIR/audit.log"
}

# Write stdin to file $1 atomically (temp file beside it, then rename).
write_atomic() {
  local target=$1 tmp
  mkdir -p "$(dirname "$target")"
  tmp=$(mktemp "$target.tmp.XXXXXX")
  if ! cat >"$tmp"; then rm -f "$tmp"; die "could not write $target"; fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$target"
}

# Print the value of key $2 in KEY=value file $1 (nothing when absent).
read_kv() { [[ -f $1 ]] && sed -n "s/^$2=//p" "$1" | tail -n 1; return 0; }

# Print one release record (JSON) from key=value arguments.
release_record() {
  jq -nc '$ARGS.named | .durationSeconds |= tonumber | .switchSeconds |= (if . == "" then null else tonumber end)' \
    --arg at "$1" --arg sha "$2" --arg image "$3" --arg digest "$4" --arg color "$5" \
    --arg outcome "$6" --arg durationSeconds "$7" --arg switchSeconds "$8" --arg by "$9" --arg startedAt "${10}"
}

# Append a release record to the history (releases.jsonl).
append_release() { release_record "$@" >>"$REFLEX_STATE_DIR/releases.jsonl"; }

# Print the release history file (empty when none yet).
history_file() { local f="$REFLEX_STATE_DIR/releases.jsonl"; [[ -f $f ]] || : >"$f"; printf '%s' "$f"; }

# Print the SHAs of the newest $1 distinct successful releases, newest first.
kept_shas() {
  jq -r 'select(.outcome == "success") | .sha' "$(history_file)" | tac | awk '!seen[$0]++' | head -n "$1"
}

# Print the image of the newest successful release of SHA $1.
release_image() {
  jq -r --arg sha "$1" 'select(.outcome == "success" and .sha == $sha) | .image' "$(history_file)" | tail -n 1
}

# Print the full SHA of the newest successful release whose SHA starts with $1 (7+ hex digits).
resolve_release_sha() {
  [[ $1 =~ ^[0-9a-f]{7,64}$ ]] || die "not a commit SHA: '$1'" 64
  jq -r --arg p "$1" 'select(.outcome == "success" and (.sha | startswith($p))) | .sha' "$(history_file)" |
    awk '!seen[$0]++' | {
    mapfile -t found
    [[ ${#found[@]} -eq 1 ]] || die "'$1' matches ${#found[@]} released SHAs (need exactly one)" 64
    printf '%s' "${found[0]}"
  }
}

# Print the SHA of the newest successful release other than SHA $1.
previous_release_sha() {
  jq -r --arg live "$1" 'select(.outcome == "success" and .sha != $live) | .sha' "$(history_file)" | tail -n 1
}

# ---------------------------------------------------------------------------------------------
# Textfile metrics and Prometheus file-SD (each written atomically)

# Print the host metrics (textfile-collector format) from the history and the live release.
host_metrics_text() {
  local live_sha=$1 live_color=$2 pinned=$3
  jq -rs --arg sha "$live_sha" --arg color "$live_color" --argjson pinned "$pinned" '
    def count(r): map(select(.outcome == r)) | length;
    def last_at(r): (map(select(.outcome == r)) | last | .at // null);
    def epoch: if . == null then null else (sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) end;
    "# HELP reflex_host_deploys_total Runs of deploy.sh on this host, by result.",
    "# TYPE reflex_host_deploys_total counter",
    "reflex_host_deploys_total{result=\"success\"} \(count("success"))",
    "reflex_host_deploys_total{result=\"failed\"} \(count("failed"))",
    "# HELP reflex_host_deploy_duration_seconds Duration of the last deploy.",
    "# TYPE reflex_host_deploy_duration_seconds gauge",
    "reflex_host_deploy_duration_seconds \((last | .durationSeconds) // 0)",
    "# HELP reflex_host_last_deploy_timestamp_seconds When the last deploy of each result ended.",
    "# TYPE reflex_host_last_deploy_timestamp_seconds gauge",
    (("success", "failed") as $r | (last_at($r) | epoch) as $t
      | select($t != null) | "reflex_host_last_deploy_timestamp_seconds{result=\"\($r)\"} \($t)"),
    "# HELP reflex_release_info 1 for the live release.",
    "# TYPE reflex_release_info gauge",
    (select($sha != "") | "reflex_release_info{sha=\"\($sha)\",color=\"\($color)\"} 1"),
    "# HELP reflex_host_pinned 1 while a rollback pin holds reconcile off.",
    "# TYPE reflex_host_pinned gauge",
    "reflex_host_pinned \($pinned)"
  ' "$(history_file)"
}

# Rewrite the host metrics file from the current state.
write_host_metrics() {
  local live_sha="" live_color="" pinned=0
  if [[ $(read_kv "$REFLEX_STATE_DIR/live" color) == "$(edge_color)" ]]; then
    live_color=$(edge_color)
    live_sha=$(read_kv "$REFLEX_STATE_DIR/live" sha)
  fi
  [[ -f $REFLEX_STATE_DIR/pinned ]] && pinned=1
  host_metrics_text "$live_sha" "$live_color" "$pinned" | write_atomic "$REFLEX_TEXTFILE_DIR/reflex_host.prom"
}

# Print the lag metric: 0 when the desired release is live, else seconds since it was recorded.
lag_metrics_text() {
  printf '# HELP reflex_desired_release_lag_seconds 0 when the desired release is live, else seconds since it was recorded.\n'
  printf '# TYPE reflex_desired_release_lag_seconds gauge\n'
  printf 'reflex_desired_release_lag_seconds %s\n' "$1"
}

# Print the file-SD target list for the app on port $1, release $2, color $3.
file_sd_json() {
  jq -n --arg target "127.0.0.1:$1" --arg sha "$2" --arg color "$3" \
    '[{targets: [$target], labels: {service: "reflex", sha: $sha, color: $color}}]'
}

# ---------------------------------------------------------------------------------------------
# nginx

# The edge picks the live color per request: green while the switch file exists, else blue
# (nginx/reflex.conf). Flipping it is one atomic file operation and needs no nginx reload, so
# no keep-alive connection is ever closed by a switch.

# Print the color the edge sends traffic to now.
edge_color() { if [[ -e $REFLEX_EDGE_SWITCH ]]; then echo green; else echo blue; fi; }

# Print the port the edge sends traffic to now.
edge_port() { color_port "$(edge_color)"; }

# Point the edge at color $1 (atomically: a rename or an unlink).
switch_edge() {
  mkdir -p "$(dirname "$REFLEX_EDGE_SWITCH")"
  case $1 in
    green) printf 'green\n' | write_atomic "$REFLEX_EDGE_SWITCH" ;;
    blue) rm -f "$REFLEX_EDGE_SWITCH" ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Check the nginx configuration, then reload nginx gracefully (after install-host.sh only).
reload_nginx() {
  nginx -c "$REFLEX_NGINX_CONF" -t -q || return 1
  nginx -c "$REFLEX_NGINX_CONF" -s reload
}

# ---------------------------------------------------------------------------------------------
# Container engine (docker or podman: the same commands)

# Run the container engine.
engine() { "$CONTAINER_ENGINE" "$@"; }

# Print the `run` arguments that start release $1 (SHA) from image $2 on color $3.
container_run_args() {
  local sha=$1 image=$2 color=$3 port
  port=$(color_port "$color")
  printf '%s\n' run --detach --name "$(container_name "$sha" "$color")" \
    --label io.reflex.service=reflex --label "io.reflex.sha=$sha" --label "io.reflex.color=$color" \
    --label "io.reflex.image=$image" --restart unless-stopped --stop-timeout "$REFLEX_STOP_TIMEOUT" \
    --publish "127.0.0.1:$port:$REFLEX_APP_PORT" --env "PORT=$REFLEX_APP_PORT" \
    --env "REFLEX_SHUTDOWN_TIMEOUT_MS=$((REFLEX_STOP_TIMEOUT * 1000))" \
    --volume "$REFLEX_APP_DATA_DIR:/data"
  if [[ -f $REFLEX_APP_ENV_FILE ]]; then printf '%s\n' --env-file "$REFLEX_APP_ENV_FILE"; fi
  printf '%s\n' "$image"
}

# Print the commit SHA an image was built from (its org.opencontainers.image.revision label).
image_revision() {
  engine image inspect --format '{{ index .Config.Labels "org.opencontainers.image.revision" }}' "$1"
}

# Pull image $1 unless it is already present by digest.
pull_image() {
  if [[ $1 == *@sha256:* ]] && engine image inspect "$1" >/dev/null 2>&1; then return 0; fi
  engine pull --quiet "$1" >/dev/null
}

# Print the names of this service's containers matching extra filters $@.
service_containers() {
  engine ps --all --filter label=io.reflex.service=reflex "$@" --format '{{.Names}}'
}

# Print label $2 of container $1.
container_label() { engine inspect --format "{{ index .Config.Labels \"$2\" }}" "$1"; }

# Print the state of container $1 (running, exited, …), or "restarting" once it has restarted.
container_state() {
  local state restarts
  read -r state restarts < <(engine inspect --format '{{.State.Status}} {{.RestartCount}}' "$1" 2>/dev/null) || true
  if [[ ${restarts:-0} -gt 0 ]]; then echo restarting; else echo "${state:-missing}"; fi
}

# Wait until port $1 answers /healthz with 2xx, up to $2 seconds, while container $3 runs.
wait_healthy() {
  local port=$1 timeout=$2 container=$3 deadline state
  deadline=$(($(now_seconds) + timeout))
  while [[ $(now_seconds) -lt $deadline ]]; do
    if curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then return 0; fi
    state=$(container_state "$container")
    if [[ $state != running && $state != created ]]; then
      log "container $container is $state"
      return 1
    fi
    sleep 0.2
  done
  log "no healthy answer on 127.0.0.1:$port/healthz within ${timeout} s"
  return 1
}

# True when something accepts HTTP connections on 127.0.0.1:$1.
port_answers() { curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null; }

# Print the SHA that port $1 reports on /version (nothing when it does not answer).
served_sha() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/version" 2>/dev/null | jq -r '.sha // empty' 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Releasing: the steps of deploy.sh, shared with rollback.sh and reconcile.sh

# Deploy image $1 blue/green (the caller holds the lock); $2=desired records it as desired.
release() {
  local image=$1 mode=$2 sha color name switch_seconds
  RELEASE_IMAGE=$image RELEASE_SHA="" RELEASE_COLOR="" RELEASE_DIGEST=$(image_digest "$image")
  RELEASE_STARTED_NS=$(date +%s%N) RELEASE_STARTED_AT=$(date -u +%FT%T.%3NZ)
  log "pulling $image"
  pull_image "$image" || fail_release "could not pull $image"
  sha=$(image_revision "$image")
  is_sha "$sha" || fail_release "image $image has no commit SHA in its org.opencontainers.image.revision label (got '$sha')"
  color=$(other_color "$(edge_color)")
  name=$(container_name "$sha" "$color")
  RELEASE_SHA=$sha RELEASE_COLOR=$color
  start_release "$sha" "$image" "$color" "$name"
  switch_edge "$color"
  switch_seconds=$(seconds_since_ns "$RELEASE_STARTED_NS")
  log "switched to $color ($sha) after ${switch_seconds} s"
  record_live "$sha" "$image" "$color" "$name" "$mode"
  retire_color "$(other_color "$color")"
  append_release "$(date -u +%FT%T.%3NZ)" "$sha" "$image" "$RELEASE_DIGEST" "$color" success \
    "$(seconds_since_ns "$RELEASE_STARTED_NS")" "$switch_seconds" "$(invoking_user)" "$RELEASE_STARTED_AT"
  audit "release sha=$sha image=$image color=$color outcome=success mode=$mode"
  write_host_metrics
  prune_releases >/dev/null
  log "release $sha is live on $color"
}

# Start release $1 from image $2 as container $4 on color $3, and wait until it is healthy.
start_release() {
  local sha=$1 image=$2 color=$3 name=$4 port args
  port=$(color_port "$color")
  log "release $sha: starting $name on 127.0.0.1:$port (the edge serves $(edge_color) now)"
  stop_color "$color"
  engine rm --force "$name" >/dev/null 2>&1 || true
  if port_answers "$port"; then
    fail_release "port $port ($color) is in use by something that is not a container of this service"
  fi
  mapfile -t args < <(container_run_args "$sha" "$image" "$color")
  engine "${args[@]}" >/dev/null || fail_release "could not start $name"
  if ! wait_healthy "$port" "$REFLEX_HEALTH_TIMEOUT" "$name"; then
    engine logs --tail 20 "$name" >&2 2>&1 || true
    # Removed, not only stopped: a container that exited on its own may be restarting under its
    # restart policy, and a stop racing that restart can leave it running (podman) or let the
    # daemon start it again at boot (docker). Its last lines are above; its image stays.
    engine rm --force "$name" >/dev/null 2>&1 || true
    fail_release "$name did not become healthy; the live release keeps serving"
  fi
}

# Record release $1 (image $2, color $3, container $4) as live; as desired too when $5=desired.
record_live() {
  local port
  port=$(color_port "$3")
  printf 'sha=%s\nimage=%s\ncolor=%s\nport=%s\ncontainer=%s\nsince=%s\n' \
    "$1" "$2" "$3" "$port" "$4" "$(now_seconds)" | write_atomic "$REFLEX_STATE_DIR/live"
  file_sd_json "$port" "$1" "$3" | write_atomic "$REFLEX_FILE_SD"
  if [[ $5 == desired ]]; then
    printf 'image=%s\nsha=%s\nat=%s\n' "$2" "$1" "$(now_seconds)" | write_atomic "$REFLEX_STATE_DIR/desired"
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

# Print who runs the script (the sudo caller, if any).
invoking_user() { printf '%s' "${SUDO_USER:-${USER:-$(id -un)}}"; }

# Record the release in progress as failed (history, audit, metrics) and exit 1 with message $1.
fail_release() {
  append_release "$(date -u +%FT%T.%3NZ)" "${RELEASE_SHA:-unknown}" "$RELEASE_IMAGE" "$RELEASE_DIGEST" \
    "$RELEASE_COLOR" failed "$(seconds_since_ns "$RELEASE_STARTED_NS")" "" "$(invoking_user)" "$RELEASE_STARTED_AT"
  audit "release sha=${RELEASE_SHA:-unknown} image=$RELEASE_IMAGE outcome=failed reason=\"$1\""
  write_host_metrics
  die "$1"
}

# Stop this service's running containers on color $1 (they stay, stopped, for rollback).
stop_color() {
  local name
  while read -r name; do
    [[ -n $name ]] || continue
    log "stopping $name"
    engine stop --time "$REFLEX_STOP_TIMEOUT" "$name" >/dev/null
  done < <(service_containers --filter "label=io.reflex.color=$1" --filter status=running)
}

# Remove stopped containers and images outside the kept releases; print what went.
prune_releases() {
  local keep live name sha id freed=0 size removed_containers=0 removed_images=0
  keep=$(kept_shas "$REFLEX_KEEP_RELEASES")
  live=$(read_kv "$REFLEX_STATE_DIR/live" sha)
  while read -r name; do
    [[ -n $name ]] || continue
    [[ $(container_state "$name") == running ]] && continue
    sha=$(container_label "$name" io.reflex.sha)
    if ! grep -qxF -- "$sha" <<<"$keep" && [[ $sha != "$live" ]]; then
      engine rm "$name" >/dev/null && removed_containers=$((removed_containers + 1)) && echo "removed container $name ($sha)"
    fi
  done < <(service_containers)
  while read -r id; do
    [[ -n $id ]] || continue
    sha=$(image_revision "$id" 2>/dev/null) || continue
    if ! grep -qxF -- "$sha" <<<"$keep" && [[ $sha != "$live" ]]; then
      size=$(engine image inspect --format '{{.Size}}' "$id" 2>/dev/null || echo 0)
      if engine rmi "$id" >/dev/null 2>&1; then
        removed_images=$((removed_images + 1)); freed=$((freed + size)); echo "removed image $id ($sha)"
      fi
    fi
  done < <(engine images --quiet --no-trunc --filter label=io.reflex.service=reflex | awk '!seen[$0]++')
  echo "freed $removed_containers containers and $removed_images images ($((freed / 1048576)) MiB)"
}
