#!/usr/bin/env bash
# Holds the host to the desired release (the last image deploy.sh released, recorded in
# $REFLEX_STATE_DIR/desired): when the release the edge serves differs (drift) it redeploys the
# desired image, unless a rollback pin holds it off (then it warns on every run). Writes
# reflex_desired_release_lag_seconds. Run every 5 minutes by reflex-reconcile.timer.
#
#   reconcile.sh           redeploy on drift unless pinned
#   reconcile.sh --reset   put the host back to the repository's state: reinstall the nginx
#                          config and timers (install-host.sh), remove the pin, and redeploy the
#                          desired release, so that a changed /etc/reflex/app.env takes effect
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init reconcile.sh "reconcile.sh [--reset]" nginx curl jq flock
[[ $# -eq 0 || ($# -eq 1 && $1 == --reset) ]] || usage
load_config
reset=0
[[ ${1:-} == --reset ]] && reset=1

# A deploy in progress is not drift: wait for it, within a bound shorter than the timer's period.
lock_wait=${REFLEX_RECONCILE_LOCK_WAIT:-240}
[[ $lock_wait =~ ^[0-9]+$ ]] || die "REFLEX_RECONCILE_LOCK_WAIT must be a whole number, got '$lock_wait'" 78
[[ $reset -eq 1 ]] && lock_wait=$REFLEX_LOCK_TIMEOUT
acquire_lock "reconcile.sh${1:+ $1}" "" "$lock_wait"

if [[ $reset -eq 1 ]]; then
  log "reset: reinstalling the host configuration from $(pwd)"
  bash ./install-host.sh
  end_pin reset
fi

desired_image=$(read_kv "$REFLEX_STATE_DIR/desired" image)
desired_sha=$(read_kv "$REFLEX_STATE_DIR/desired" sha)
desired_at=$(read_kv "$REFLEX_STATE_DIR/desired" at)
if [[ -z $desired_image ]]; then
  log "no desired release recorded yet (deploy.sh records one); nothing to do"
  write_host_metrics
  exit 0
fi

running_sha=$(served_sha "$(edge_port)")
pin=$(pin_file)

if [[ $reset -eq 1 ]]; then
  # A fresh container is the only way a changed app.env reaches the app.
  log "reset: redeploying the desired release $desired_sha (serving ${running_sha:-nothing})"
  release "$desired_image" reconcile
  lag=0
elif [[ $running_sha == "$desired_sha" ]]; then
  log "in sync: $desired_sha serves"
  lag=0
elif [[ -f $pin ]]; then
  log "WARNING: pinned to $(read_kv "$pin" sha) by rollback.sh at $(date -u -d "@$(read_kv "$pin" at)" +%FT%TZ) by $(read_kv "$pin" by): serving ${running_sha:-nothing}, desired $desired_sha, not redeploying; 'rollback.sh --unpin' (or the next deploy) ends the pin"
  lag=$(($(now_seconds) - ${desired_at:-$(now_seconds)}))
else
  log "drift: serving ${running_sha:-nothing}, desired $desired_sha: redeploying $desired_image"
  audit "drift serving=${running_sha:-none} desired=$desired_sha"
  release "$desired_image" reconcile
  lag=0
fi
lag_metrics_text "$lag" | write_atomic "$REFLEX_TEXTFILE_DIR/reflex_reconcile.prom"
write_host_metrics
