# shellcheck shell=bash
# The container engine (docker or podman: the same commands). Every container and image of this
# service carries the label io.reflex.service=reflex; containers also carry their SHA and color.

# Run the container engine.
engine() { "$CONTAINER_ENGINE" "$@"; }

# Print the container name of release $1 (SHA) on color $2.
container_name() { printf 'reflex-%s-%s' "$2" "${1:0:12}"; }

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
