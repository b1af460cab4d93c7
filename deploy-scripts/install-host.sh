#!/usr/bin/env bash
# Installs the host side of Reflex from this folder (docs/HOST.md): copies the scripts to
# REFLEX_SCRIPTS_DIR, creates the state folders, installs the nginx edge (nginx/reflex.conf,
# with this host's listen address, blue/green ports and switch file), installs the systemd
# units and enables the timers, and reloads nginx. Idempotent: run by the EC2 user data, and
# again by `reconcile.sh --reset`.
#
#   install-host.sh        settings: /etc/reflex/deploy.env (see docs/HOST.md)
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init install-host.sh "install-host.sh   (no arguments)" nginx curl jq flock
[[ $# -eq 0 ]] || usage
load_config

# Print systemd unit $1 with this host's scripts folder.
render_unit() { sed "s#/opt/reflex/deploy-scripts#$REFLEX_SCRIPTS_DIR#g" "systemd/$1"; }

# Install the scripts into REFLEX_SCRIPTS_DIR (a no-op when running from there).
install_scripts() {
  local source target staging
  source=$(pwd -P)
  mkdir -p "$REFLEX_SCRIPTS_DIR"
  target=$(cd "$REFLEX_SCRIPTS_DIR" && pwd -P)
  [[ $source != "$target" ]] || return 0
  staging=$(mktemp -d "$target.new.XXXXXX")
  cp -a "$source/." "$staging/"
  rm -rf "$staging/test"
  rm -rf "$target.old"
  mv "$target" "$target.old" && mv "$staging" "$target" && rm -rf "$target.old"
  log "installed the scripts into $target"
}

install_scripts
mkdir -p "$REFLEX_STATE_DIR" "$REFLEX_TEXTFILE_DIR" "$(dirname "$REFLEX_FILE_SD")" "$(dirname "$REFLEX_EDGE_SWITCH")"
# The app's own data (accounts, revoked sessions, audit), mounted at /data in every release,
# owned by the image's unprivileged user.
mkdir -p "$REFLEX_APP_DATA_DIR"
chown "$REFLEX_APP_UID:$REFLEX_APP_UID" "$REFLEX_APP_DATA_DIR"
chmod 0700 "$REFLEX_APP_DATA_DIR"
# nginx's workers (www-data) stat the switch file; node-exporter reads the textfile folder.
chmod 0755 "$REFLEX_STATE_DIR" "$REFLEX_TEXTFILE_DIR" "$(dirname "$REFLEX_EDGE_SWITCH")"

# The token the platform trusts forwarded headers with: nginx sends it, app.env holds it.
token=$(edge_token)
[[ $(read_kv "$REFLEX_APP_ENV_FILE" REFLEX_EDGE_TOKEN) == "$token" ]] ||
  set_env_line "$REFLEX_APP_ENV_FILE" REFLEX_EDGE_TOKEN "$token"

# nginx is reloaded only when its configuration changed: a reload closes idle keep-alive
# connections, and every deploy runs this script through install-bundle.sh.
edge=$(disable_packaged_default_site)
edge+=$(render_edge_conf nginx/reflex.conf "$token" | install_edge_conf)
log "the edge $REFLEX_NGINX_SITE ($edge; listening on $REFLEX_EDGE_LISTEN, switch file $REFLEX_EDGE_SWITCH)"

install_alertmanager_config
log "Alertmanager's receiver: $REFLEX_ALERTMANAGER_CONFIG (from $REFLEX_ALERTING_ENV)"

units_changed=0
for unit in systemd/*.service systemd/*.timer; do
  target="$REFLEX_SYSTEMD_DIR/$(basename "$unit")"
  text=$(render_unit "$(basename "$unit")")
  [[ -f $target && $(cat "$target") == "$text" ]] && continue
  printf '%s\n' "$text" | write_atomic "$target"
  units_changed=1
done
if [[ -d /run/systemd/system ]]; then
  [[ $units_changed -eq 0 ]] || systemctl daemon-reload
  systemctl enable --now --quiet reflex-cleanup.timer reflex-reconcile.timer
  log "reflex-cleanup.timer and reflex-reconcile.timer are enabled"
else
  log "systemd is not running here: units written to $REFLEX_SYSTEMD_DIR, not enabled"
fi

if ! nginx_running; then
  log "nginx is not running yet; it serves the edge when started"
elif [[ $edge == *new* ]]; then
  reload_nginx || die "nginx did not reload"
  log "nginx reloaded (its configuration changed)"
else
  log "nginx configuration unchanged: no reload"
fi
write_host_metrics
audit "install-host from $(pwd -P)"
