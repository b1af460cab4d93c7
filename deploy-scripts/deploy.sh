#!/usr/bin/env bash
# Deploys IMAGE (registry/repository@sha256:digest, or :tag) blue/green behind nginx: takes the
# host lock, pulls, starts the release on the idle color's port, waits for /healthz, points the
# nginx edge at it (an atomic switch file, no reload: see nginx/reflex.conf), drains and stops
# the old color, records the release (history, audit log, textfile metrics, file-SD) and keeps
# the newest REFLEX_KEEP_RELEASES releases.
# A release that does not become healthy is stopped; the live one keeps serving; exit 1.
# On success IMAGE becomes the desired release that reconcile.sh holds the host to, and a
# rollback pin ends.
#
# --expect-live SHA|none: under the lock, refuse (exit 65, nothing changed) unless the live
# release is SHA (or nothing is live). The deploy workflow checks that IMAGE's commit descends
# from the live one, then passes that live SHA, so an older commit that finishes later never
# replaces a newer one. A rollback is rollback.sh, never this path.
#
#   deploy.sh IMAGE [--expect-live SHA|none]    settings: /etc/reflex/deploy.env (docs/HOST.md)
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init deploy.sh "deploy.sh IMAGE [--expect-live SHA|none]   (IMAGE = registry/repository@sha256:<digest> or registry/repository:<tag>)" \
  curl jq flock
[[ ($# -eq 1 || ($# -eq 3 && $2 == --expect-live)) && $1 != -* ]] || usage
image=$1
expect_live=${3-}
is_image_ref "$image" || die "not an image reference with a tag or digest: '$image'" 64
if [[ $# -eq 3 ]] && ! is_sha "$expect_live" && [[ $expect_live != none ]]; then
  die "--expect-live takes a full commit SHA or none, got '$expect_live'" 64
fi
load_config
acquire_lock "deploy.sh($(invoking_user))" "$image" "$REFLEX_LOCK_TIMEOUT"
if [[ $# -eq 3 ]]; then
  live=$(read_kv "$REFLEX_STATE_DIR/live" sha)
  if [[ ${live:-none} != "$expect_live" ]]; then
    audit "refused image=$image expected-live=$expect_live live=${live:-none}"
    die "refused: the live release is ${live:-none}, not the expected $expect_live (a newer deploy went first; nothing changed)" 65
  fi
fi
release "$image" desired
