#!/usr/bin/env bash
# Emergency rollback on the host: redeploys a kept release (default: the newest successful one
# before the live release) and pins it, so that reconcile.sh leaves it alone until
# `rollback.sh --unpin`. The repository's own rollback is a revert commit; this is for when the
# pipeline itself cannot help.
#
#   rollback.sh            roll back to the previous release, and pin it
#   rollback.sh SHA        roll back to release SHA (a unique prefix of 7+ hex digits), and pin it
#   rollback.sh --unpin    remove the pin (the next reconcile restores the desired release)
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init rollback.sh "rollback.sh [SHA|--unpin]" curl jq flock
[[ $# -eq 0 || ($# -eq 1 && ($1 != -* || $1 == --unpin)) ]] || usage
load_config
pinned_file=$(pin_file)

if [[ ${1:-} == --unpin ]]; then
  acquire_lock "rollback.sh --unpin" "" "$REFLEX_LOCK_TIMEOUT"
  if [[ -f $pinned_file ]]; then
    end_pin "rollback.sh --unpin"
    log "unpinned; the next reconcile.sh run restores the desired release"
  else
    log "nothing was pinned"
  fi
  write_host_metrics
  exit 0
fi

acquire_lock "rollback.sh($(invoking_user))" "${1:-previous}" "$REFLEX_LOCK_TIMEOUT"
live_sha=$(read_kv "$REFLEX_STATE_DIR/live" sha)
if [[ $# -eq 1 ]]; then
  sha=$(resolve_release_sha "$1")
else
  sha=$(previous_release_sha "$live_sha")
  [[ -n $sha ]] || die "no earlier release to roll back to (live: ${live_sha:-none})"
fi
image=$(release_image "$sha")
[[ -n $image ]] || die "release $sha has no recorded image"
log "rolling back to $sha ($image)"
release "$image" rollback
printf 'sha=%s\nimage=%s\nat=%s\nby=%s\n' "$sha" "$image" "$(now_seconds)" "$(invoking_user)" |
  write_atomic "$pinned_file"
audit "pin sha=$sha"
write_host_metrics
log "pinned to $sha: reconcile.sh leaves the host alone until 'rollback.sh --unpin'"
