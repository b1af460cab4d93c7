#!/usr/bin/env bash
# Deploys IMAGE (registry/repository@sha256:digest, or :tag) blue/green behind nginx: takes the
# host lock, pulls, starts the release on the idle color's port, waits for /healthz, points the
# nginx edge at it (an atomic switch file, no reload: see nginx/reflex.conf), drains and stops
# the old color, records the release (history, audit log, textfile metrics, file-SD) and keeps
# the newest REFLEX_KEEP_RELEASES releases.
# A release that does not become healthy is stopped; the live one keeps serving; exit 1.
# On success IMAGE becomes the desired release that reconcile.sh holds the host to.
#
#   deploy.sh IMAGE        settings: /etc/reflex/deploy.env (see docs/HOST.md)
set -o errexit -o nounset -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR
source lib/common.sh
script_init deploy.sh "deploy.sh IMAGE   (IMAGE = registry/repository@sha256:<digest> or registry/repository:<tag>)" \
  curl jq flock
[[ $# -eq 1 && $1 != -* ]] || usage
image=$1
is_image_ref "$image" || die "not an image reference with a tag or digest: '$image'" 64
load_config
acquire_lock "deploy.sh($(invoking_user))" "$image" "$REFLEX_LOCK_TIMEOUT"
release "$image" desired
