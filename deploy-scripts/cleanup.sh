#!/usr/bin/env bash
# Prunes this service's stopped containers and images (by the io.reflex.service label) that
# are outside the newest REFLEX_KEEP_RELEASES successful releases; never the live release or a
# running container. Prints what it freed. Run daily by reflex-cleanup.timer.
#
#   cleanup.sh
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init cleanup.sh "cleanup.sh   (no arguments)" jq flock
[[ $# -eq 0 ]] || usage
load_config
acquire_lock "cleanup.sh" "" "$REFLEX_LOCK_TIMEOUT"
report=$(prune_releases)
printf '%s\n' "$report"
audit "cleanup $(tail -n 1 <<<"$report")"
