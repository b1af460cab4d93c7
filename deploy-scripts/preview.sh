#!/usr/bin/env bash
# Change-request previews on the host (docs/HOST.md, "Previews"). `up` pulls IMAGE (by digest)
# and runs its site, and only its site, as preview SLUG: the live site's sandbox (own user,
# read-only root, no capability, bounded pids and memory, no env file, no volume, no platform
# secret), on the previews' own network and a free port of REFLEX_PREVIEW_PORTS; once it answers
# /healthz, nginx serves it at SLUG.REFLEX_PREVIEW_DOMAIN. A new preview beyond
# REFLEX_PREVIEW_MAX first stops the one used least recently (last request through nginx, or
# last `up`). `up` of a running preview replaces its container on the same port: no reload.
# `up` and `down` return once nginx answers the preview's host name the new way.
# `down` stops and removes a preview, its route and its state (a merged or closed change
# request); a name that runs nothing is not an error. `list` prints the running previews.
# A preview that does not become healthy is removed with its route; its last lines are printed;
# exit 1.
#
#   preview.sh up SLUG IMAGE | down SLUG | list     settings: /etc/reflex/deploy.env (docs/HOST.md)
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init preview.sh "preview.sh up SLUG IMAGE | down SLUG | list   (IMAGE = registry/repository@sha256:<digest>)" \
  curl jq flock nginx
case ${1:-} in
  up) [[ $# -eq 3 ]] || usage ;;
  down) [[ $# -eq 2 ]] || usage ;;
  list) [[ $# -eq 1 ]] || usage ;;
  *) usage ;;
esac
action=$1 slug=${2:-}
if [[ $action != list ]] && ! is_preview_slug "$slug"; then
  die "not a preview name: '$slug' (1-40 lowercase letters, digits and '-', starting with a letter or digit; not 'editor')" 64
fi
if [[ $action == up ]]; then
  image=$3
  if ! is_image_ref "$image" || [[ $image != *@sha256:* ]]; then
    die "not an image reference by digest (registry/repository@sha256:<digest>): '$image'" 64
  fi
fi
load_config

# Start preview $slug from $image (the caller holds the lock).
preview_up() {
  local state port container sha built_at args evicted
  state=$(preview_state "$slug")
  container=$(preview_container_name "$slug")
  log "pulling $image"
  pull_image "$image" || die "could not pull $image"
  sha=$(image_revision "$image")
  is_sha "$sha" || die "image $image has no commit SHA in its org.opencontainers.image.revision label (got '$sha')"
  port=$(read_kv "$state" port)
  if [[ -z $port ]]; then
    while [[ $(preview_slugs | grep -c .) -ge $REFLEX_PREVIEW_MAX ]]; do
      evicted=$(oldest_idle_preview "$slug")
      remove_preview "$evicted" "the oldest idle preview, idle $(($(now_seconds) - $(preview_last_used "$evicted"))) s: $slug makes more than REFLEX_PREVIEW_MAX=$REFLEX_PREVIEW_MAX"
    done
    port=$(free_preview_port) || die "no free port in REFLEX_PREVIEW_PORTS=$REFLEX_PREVIEW_PORTS"
  fi
  log "preview $slug ($sha): starting $container on 127.0.0.1:$port"
  engine stop --time "$REFLEX_STOP_TIMEOUT" "$container" >/dev/null 2>&1 || true
  engine rm --force "$container" >/dev/null 2>&1 || true
  ensure_network "$REFLEX_PREVIEW_NETWORK"
  built_at=$(image_built_at "$image")
  mapfile -t args < <(preview_container_run_args "$slug" "$sha" "$image" "$port" "$built_at")
  if ! engine "${args[@]}" >/dev/null || ! wait_healthy "$port" "$REFLEX_HEALTH_TIMEOUT" "$container"; then
    engine logs --tail 20 "$container" >&2 2>&1 || true
    remove_preview "$slug" "$sha did not become healthy"
    die "preview $slug ($sha) did not become healthy; it is removed"
  fi
  mkdir -p "$(preview_dir)"
  printf 'slug=%s\nsha=%s\nimage=%s\nport=%s\ncontainer=%s\nup=%s\n' "$slug" "$sha" "$image" "$port" "$container" \
    "$(now_seconds)" | write_atomic "$state"
  sync_preview_routes
  wait_preview_route "$slug" "$sha"
  audit "preview-up slug=$slug sha=$sha image=$image port=$port"
  log "preview $slug ($sha) serves at $(preview_host "$slug") (127.0.0.1:$port)"
}

case $action in
  up)
    [[ -n $REFLEX_PREVIEW_DOMAIN ]] || die "REFLEX_PREVIEW_DOMAIN is not set: the previews' host names are <slug>.REFLEX_PREVIEW_DOMAIN" 78
    acquire_lock "preview.sh($(invoking_user))" "$slug=$image" "$REFLEX_LOCK_TIMEOUT"
    preview_up
    ;;
  down)
    acquire_lock "preview.sh($(invoking_user))" "$slug" "$REFLEX_LOCK_TIMEOUT"
    if [[ -f $(preview_state "$slug") || -n $(engine ps --all --filter "label=io.reflex.preview=$slug" --format '{{.Names}}') ]]; then
      remove_preview "$slug" "down"
    else
      log "no preview named $slug runs here: nothing to remove"
    fi
    ;;
  list)
    while read -r slug; do
      [[ -n $slug ]] || continue
      state=$(preview_state "$slug")
      printf '%s sha=%s port=%s idle=%ss host=%s\n' "$slug" "$(read_kv "$state" sha)" "$(read_kv "$state" port)" \
        $(($(now_seconds) - $(preview_last_used "$slug"))) "$(preview_host "$slug")"
    done < <(preview_slugs)
    ;;
esac
