# shellcheck shell=bash
# Change-request previews (preview.sh): a preview is one site container from a branch's image,
# sandboxed as the live site is, on a port of REFLEX_PREVIEW_PORTS, routed by nginx at
# <slug>.REFLEX_PREVIEW_DOMAIN. Each has a KEY=value file under REFLEX_STATE_DIR/previews
# (<slug>.preview) and the nginx access log of its route beside it (<slug>.seen), whose
# modification time says when it last served a request. Its containers carry the label
# io.reflex.service=reflex-preview, never the releases' reflex: a deploy, a rollback, reconcile
# and cleanup do not see them.

# True when $1 is a preview name: what a change-request branch reflex/<user>/<slug> ends in
# (lowercase letters, digits and '-', 1-40, starting with a letter or digit), and not `editor`,
# the editor's host name.
is_preview_slug() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,39}$ && $1 != editor ]]; }

# Print the folder of the previews' state.
preview_dir() { printf '%s/previews' "$REFLEX_STATE_DIR"; }

# Print the state file of preview $1.
preview_state() { printf '%s/%s.preview' "$(preview_dir)" "$1"; }

# Print the access log of preview $1's route.
preview_seen_log() { printf '%s/%s.seen' "$(preview_dir)" "$1"; }

# Print the container name of preview $1.
preview_container_name() { printf 'reflex-preview-%s' "$1"; }

# Print the host name of preview $1.
preview_host() { printf '%s.%s' "$1" "$REFLEX_PREVIEW_DOMAIN"; }

# Print the running previews' names, one a line, sorted.
preview_slugs() {
  local file
  for file in "$(preview_dir)"/*.preview; do
    [[ -f $file ]] && basename "$file" .preview
  done
  return 0
}

# Print when preview $1 was last used (epoch seconds): its last request through nginx, or its
# last `up`, whichever is later.
preview_last_used() {
  local up seen=0 log
  up=$(read_kv "$(preview_state "$1")" up)
  log=$(preview_seen_log "$1")
  if [[ -s $log ]]; then seen=$(stat -c %Y "$log"); fi
  printf '%s' $((${up:-0} > seen ? ${up:-0} : seen))
}

# Print the name of the preview used least recently among those other than $1 (nothing if none).
oldest_idle_preview() {
  local slug
  while read -r slug; do
    [[ -n $slug && $slug != "$1" ]] && printf '%s %s\n' "$(preview_last_used "$slug")" "$slug"
  done < <(preview_slugs) | sort -n | awk 'NR == 1 { print $2 }'
}

# Print a port of REFLEX_PREVIEW_PORTS that no preview holds and nothing answers on.
free_preview_port() {
  local port taken slug
  taken=$(while read -r slug; do [[ -n $slug ]] && read_kv "$(preview_state "$slug")" port; done < <(preview_slugs))
  for ((port = ${REFLEX_PREVIEW_PORTS%%-*}; port <= ${REFLEX_PREVIEW_PORTS#*-}; port++)); do
    grep -qxF -- "$port" <<<"$taken" && continue
    port_answers "$port" && continue
    (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    printf '%s' "$port"
    return 0
  done
  return 1
}

# Print the `run` arguments that start preview $1 of release $2 (SHA) from image $3 on host port
# $4, built at $5: the live site's sandbox and environment allowlist, on the previews' own
# network, with none of the operator's public site settings (a preview is not production), only
# REFLEX_SITE_PREVIEW naming it.
preview_container_run_args() {
  local slug=$1 sha=$2 image=$3 port=$4 built_at=$5
  printf '%s\n' run --detach --name "$(preview_container_name "$slug")" \
    --label io.reflex.service=reflex-preview --label "io.reflex.preview=$slug" --label "io.reflex.sha=$sha" \
    --label io.reflex.role=site --label "io.reflex.image=$image"
  site_sandbox_args
  printf '%s\n' --network "$REFLEX_PREVIEW_NETWORK" --publish "127.0.0.1:$port:$REFLEX_APP_PORT" \
    --env "PORT=$REFLEX_APP_PORT" --env HOST=0.0.0.0 --env "REFLEX_SHA=$sha" --env "REFLEX_BUILT_AT=$built_at" \
    --env "REFLEX_SITE_PREVIEW=$slug" "$image" "${SITE_COMMAND[@]}"
}

# Print the nginx configuration of the running previews: one server per preview (nginx/preview.conf
# with this host's listen address and trusted proxies), and for any other name under the preview
# domain a 404 that says so, never the live site.
render_preview_routes() {
  local slug
  printf '# The running previews, written by preview.sh (docs/HOST.md, "Previews"): not edited by hand.\n'
  printf "log_format reflex_preview_seen '\$msec';\n"
  [[ -n $REFLEX_PREVIEW_DOMAIN ]] || return 0
  printf 'server {\n    listen %s;\n    server_name *.%s;\n    default_type text/plain;\n    return 404 "no preview of that name runs here\\n";\n}\n' \
    "$REFLEX_EDGE_LISTEN" "$REFLEX_PREVIEW_DOMAIN"
  while read -r slug; do
    [[ -n $slug ]] || continue
    render_edge_conf nginx/preview.conf "" | sed -e '/^#/d' -e "s#@preview-host@#$(preview_host "$slug")#" \
      -e "s#@access-log@#$(preview_seen_log "$slug")#" -e "s#@port@#$(read_kv "$(preview_state "$slug")" port)#"
  done < <(preview_slugs)
}

# Install the previews' nginx configuration; reload nginx only when it changed (a preview came or
# went), since a reload closes idle keep-alive connections of the live site too.
sync_preview_routes() {
  local changed
  changed=$(render_preview_routes | install_nginx_conf "$REFLEX_NGINX_PREVIEWS" 0644 "the previews' routes")
  if [[ $changed == new ]] && nginx_running; then
    reload_nginx || die "nginx did not reload"
    log "nginx reloaded (the set of previews changed)"
  fi
}

# Print the edge's address for curl (REFLEX_EDGE_LISTEN is PORT or ADDRESS:PORT).
edge_address() {
  if [[ $REFLEX_EDGE_LISTEN == *:* ]]; then printf '%s' "$REFLEX_EDGE_LISTEN"; else printf '127.0.0.1:%s' "$REFLEX_EDGE_LISTEN"; fi
}

# Wait, up to REFLEX_HEALTH_TIMEOUT seconds, until nginx answers preview $1's host name as $2:
# the SHA the preview's /healthz reports, or `gone` (the preview domain's 404). `nginx -s
# reload` returns before the new workers take over; until then the old routes answer.
wait_preview_route() {
  local slug=$1 want=$2 deadline got url
  [[ -n $REFLEX_PREVIEW_DOMAIN ]] && nginx_running || return 0
  url="http://$(edge_address)/healthz"
  deadline=$(($(now_seconds) + REFLEX_HEALTH_TIMEOUT))
  while [[ $(now_seconds) -lt $deadline ]]; do
    if [[ $want == gone ]]; then
      got=$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' -H "Host: $(preview_host "$slug")" "$url" 2>/dev/null || true)
      [[ $got == 404 ]] && return 0
    else
      got=$(curl -fsS --max-time 2 -H "Host: $(preview_host "$slug")" "$url" 2>/dev/null | jq -r '.sha // empty' 2>/dev/null || true)
      [[ $got == "$want" ]] && return 0
    fi
    sleep 0.2
  done
  log "warning: nginx does not answer $(preview_host "$slug") as expected ($want) after ${REFLEX_HEALTH_TIMEOUT} s"
}

# Stop and remove preview $1: its container, its route and its state (reason $2, for the log).
remove_preview() {
  local slug=$1 reason=$2
  engine stop --time "$REFLEX_STOP_TIMEOUT" "$(preview_container_name "$slug")" >/dev/null 2>&1 || true
  engine rm --force "$(preview_container_name "$slug")" >/dev/null 2>&1 || true
  rm -f "$(preview_state "$slug")"
  sync_preview_routes
  wait_preview_route "$slug" gone
  rm -f "$(preview_seen_log "$slug")"
  audit "preview-down slug=$slug reason=\"$reason\""
  log "preview $slug stopped and removed ($reason)"
}
