#!/usr/bin/env bash
# Receives the host bundle on stdin and installs it. The bundle is a gzip'd tar of the
# repository's deploy-scripts/, compose.yaml, prometheus/ and grafana/ at the commit being
# deployed; the deploy workflow sends it over ssh before every deploy, so the host's scripts,
# nginx edge, timers and monitoring stack follow the repository. The EC2 user data places only
# this script (the rest would not fit EC2's 16 KB user data); it depends on nothing installed here:
# once the bundle is unpacked it uses the bundle's own lib/ (and takes the deploy lock with it).
#
#   install-bundle.sh SHA < bundle.tar.gz
#
# Settings (environment, else /etc/reflex/deploy.env): REFLEX_HOME (/opt/reflex),
# CONTAINER_ENGINE (docker); install-host.sh reads the rest.
set -o errexit -o nounset -o pipefail

if [[ $# -ne 1 || ! $1 =~ ^[0-9a-f]{7,64}$ ]]; then
  printf 'usage: %s\n' "install-bundle.sh SHA < bundle.tar.gz   (SHA: the commit the bundle comes from)" >&2
  exit 64
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
readonly SHA=$1

# Prints a message naming this script.
log() { printf '[install-bundle] %s\n' "$*" >&2; }

# Stops with a message naming what is wrong.
fail() {
  log "FAILED: $*"
  exit 1
}

if [[ -r ${REFLEX_DEPLOY_ENV:-/etc/reflex/deploy.env} ]]; then
  while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
    [[ -n ${!key+set} ]] || export "$key=$value"
  done <"${REFLEX_DEPLOY_ENV:-/etc/reflex/deploy.env}"
fi
readonly HOME_DIR=${REFLEX_HOME:-/opt/reflex}
readonly ENGINE=${CONTAINER_ENGINE:-docker}

work=$(mktemp -d "${TMPDIR:-/tmp}/reflex-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT

tar -xz -C "$work" --no-same-owner || fail "stdin is not a gzip'd tar"
for required in deploy-scripts/install-host.sh deploy-scripts/deploy.sh deploy-scripts/lib/common.sh \
  compose.yaml prometheus/prometheus.yml grafana; do
  [[ -e $work/$required ]] || fail "the bundle has no $required"
done
for script in "$work"/deploy-scripts/*.sh "$work"/deploy-scripts/lib/*.sh; do
  bash -n "$script" || fail "$(basename "$script") does not parse"
done
# The bundle's own lock code, so that the lock it takes is the one its scripts take: no deploy,
# rollback or reconcile runs while the scripts and the edge are swapped.
# shellcheck source=deploy-scripts/lib/common.sh
source "$work/deploy-scripts/lib/common.sh"
script_init install-bundle.sh "install-bundle.sh SHA < bundle.tar.gz" flock
load_config
acquire_lock "install-bundle.sh" "$SHA" "$REFLEX_LOCK_TIMEOUT"
trap 'release_lock; rm -rf "$work"' EXIT

log "bundle of ${SHA:0:12}: scripts, edge and timers"
bash "$work/deploy-scripts/install-host.sh"

# Swap $1 (a file or folder of the bundle) into HOME_DIR in one rename.
install_part() {
  local part=$1
  rm -rf "$HOME_DIR/.$part.new" "$HOME_DIR/.$part.old"
  cp -a "$work/$part" "$HOME_DIR/.$part.new"
  if [[ -e $HOME_DIR/$part ]]; then mv "$HOME_DIR/$part" "$HOME_DIR/.$part.old"; fi
  mv "$HOME_DIR/.$part.new" "$HOME_DIR/$part"
  rm -rf "$HOME_DIR/.$part.old"
}

mkdir -p "$HOME_DIR"
for part in compose.yaml prometheus grafana; do install_part "$part"; done
printf '%s\n' "$SHA" >"$HOME_DIR/bundle-sha"

# The monitoring stack watches the app; it never holds the app's deploy back. A failure is
# reported here and in the audit log, and the next bundle tries again.
if "$ENGINE" compose version >/dev/null 2>&1; then
  log "monitoring stack: $ENGINE compose up"
  if ! output=$("$ENGINE" compose --file "$HOME_DIR/compose.yaml" --project-name reflex-monitoring \
    up --detach --remove-orphans 2>&1); then
    log "WARNING: the monitoring stack did not start (the app's deploy goes on): $(tail -n 5 <<<"$output")"
    audit "monitoring-failed bundle=$SHA"
  fi
else
  log "no '$ENGINE compose' here: monitoring files installed, stack not (re)started"
fi
log "installed the bundle of ${SHA:0:12}"
