# shellcheck shell=bash
# The container engine (docker or podman: the same commands). Every container and image of this
# service carries the label io.reflex.service=reflex; containers also carry their SHA, color and
# role. A release is two containers from one image: the platform (the editor, its secrets and
# data) and the site (the code editors change, run as untrusted code: docs/HOST.md).

# The site's process: Node's permission model lets it read its bundle and its pages and nothing
# else, and neither write, start processes nor load addons (docs/ARCHITECTURE.md).
readonly SITE_COMMAND=(node --permission --allow-fs-read=/app/webapp/site --allow-fs-read=/app/webapp/dist
  webapp/dist/site.js)

# Run the container engine.
engine() { "$CONTAINER_ENGINE" "$@"; }

# Print the container name of release $1 (SHA) on color $2, for role $3 (platform by default).
container_name() {
  if [[ ${3:-platform} == site ]]; then printf 'reflex-site-%s-%s' "$2" "${1:0:12}"; else printf 'reflex-%s-%s' "$2" "${1:0:12}"; fi
}

# Print the `run` arguments that start the platform of release $1 (SHA) from image $2 on color $3.
container_run_args() {
  local sha=$1 image=$2 color=$3 port
  port=$(color_port "$color")
  printf '%s\n' run --detach --name "$(container_name "$sha" "$color")" \
    --label io.reflex.service=reflex --label "io.reflex.sha=$sha" --label "io.reflex.color=$color" \
    --label io.reflex.role=platform \
    --label "io.reflex.image=$image" --restart unless-stopped --stop-timeout "$REFLEX_STOP_TIMEOUT" \
    --network "$REFLEX_PLATFORM_NETWORK" --publish "127.0.0.1:$port:$REFLEX_APP_PORT" --env "PORT=$REFLEX_APP_PORT" \
    --env "REFLEX_SHUTDOWN_TIMEOUT_MS=$((REFLEX_STOP_TIMEOUT * 1000))" \
    --volume "$REFLEX_APP_DATA_DIR:/data"
  if [[ -f $REFLEX_APP_ENV_FILE ]]; then printf '%s\n' --env-file "$REFLEX_APP_ENV_FILE"; fi
  printf '%s\n' "$image"
}

# Print the `run` arguments of the site's sandbox: its own
# unprivileged user, a read-only root, no capability, no privilege gained through exec, bounded
# processes and memory, and nothing of the platform's: no env file, no volume.
site_sandbox_args() {
  printf '%s\n' --user "$REFLEX_SITE_USER" --read-only --cap-drop ALL --security-opt no-new-privileges \
    --pids-limit "$REFLEX_SITE_PIDS" --memory "$REFLEX_SITE_MEMORY" --memory-swap "$REFLEX_SITE_MEMORY" \
    --restart unless-stopped --stop-timeout "$REFLEX_STOP_TIMEOUT"
  # podman mounts writable tmpfs folders into a read-only container unless told not to; docker
  # does not. The site writes nothing.
  if [[ $CONTAINER_ENGINE == podman ]]; then printf '%s\n' --read-only-tmpfs=false; fi
}

# Print `--env KEY=value` pairs (two lines each) for the public site settings in file $1: only
# keys named REFLEX_SITE_*, which an operator declares public by that name; any other line stops
# the script naming the file and line (a secret put there by mistake never reaches the site).
site_settings_args() {
  [[ -f $1 ]] || return 0
  each_env_line "$1" site_setting_arg
}

# Print `--env KEY=value` for site setting KEY $1 with VALUE $2, read at $3 (file:line).
site_setting_arg() {
  [[ $1 =~ ^REFLEX_SITE_[A-Z0-9_]+$ ]] ||
    die "$3: $1 is not a public site setting: the site gets only keys named REFLEX_SITE_*" 78
  printf '%s\n' --env "$1=$2"
}

# Print the `run` arguments that start the site of release $1 (SHA) from image $2 on color $3,
# built at $4 (ISO time): the site's own network and port, and the environment allowlist.
site_container_run_args() {
  local sha=$1 image=$2 color=$3 built_at=$4
  printf '%s\n' run --detach --name "$(container_name "$sha" "$color" site)" \
    --label io.reflex.service=reflex --label "io.reflex.sha=$sha" --label "io.reflex.color=$color" \
    --label io.reflex.role=site --label "io.reflex.image=$image"
  site_sandbox_args
  printf '%s\n' --network "$REFLEX_SITE_NETWORK" --publish "127.0.0.1:$(site_port "$color"):$REFLEX_APP_PORT" \
    --env "PORT=$REFLEX_APP_PORT" --env HOST=0.0.0.0 --env "REFLEX_SHA=$sha" --env "REFLEX_BUILT_AT=$built_at"
  site_settings_args "$REFLEX_SITE_ENV_FILE"
  printf '%s\n' "$image" "${SITE_COMMAND[@]}"
}

# Print the `network create` arguments of network $1: a bridge of its own, isolated. The platform
# and the site each have one, so that the site reaches the platform's container only through
# nginx: engines block traffic between two isolated bridges, not from one to the default bridge.
network_create_args() {
  printf '%s\n' network create --driver bridge --label io.reflex.service=reflex
  # docker isolates user-defined bridges from each other by default; podman only when asked.
  if [[ $CONTAINER_ENGINE == podman ]]; then printf '%s\n' --opt isolate=true; fi
  printf '%s\n' "$1"
}

# Create network $1 unless it exists.
ensure_network() {
  local args
  engine network inspect "$1" >/dev/null 2>&1 && return 0
  mapfile -t args < <(network_create_args "$1")
  engine "${args[@]}" >/dev/null || die "could not create the network $1"
  log "created the network $1"
}

# Print when image $1 was built (ISO time), for the site's page templates ({{builtAt}}).
image_built_at() {
  # JSON: docker and podman both print an RFC 3339 time that way.
  engine image inspect --format '{{json .Created}}' "$1" 2>/dev/null | tr -d '"' | sed -E 's/\.[0-9]+//'
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

# Print the SHA the site on port $1 reports on its /healthz while ready (nothing otherwise).
served_site_sha() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz" 2>/dev/null | jq -r '.sha // empty' 2>/dev/null || true
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
