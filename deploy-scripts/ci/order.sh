#!/usr/bin/env bash
# Decides, in the runner (it has the history), whether this run may replace what is live:
#
#   action=deploy      the live commit is an ancestor of SHA (or SHA itself, or nothing is
#                      live); expect_live=<live|none> is passed to deploy.sh --expect-live,
#                      which refuses under the host's lock if the live release changed since
#   action=none        the live commit descends from SHA: a newer run already deployed it; an
#                      older run never replaces a newer release
#   action=rollback    an explicit rollback (ROLLBACK=true): no ancestry check
#
# It fails when the live commit is unrelated to SHA (history rewritten, or rolled back past
# it), and when the live commit moved outside the range this run's policy and gate checked
# (CHECKED_FROM, the live commit the policy job saw; empty skips that check).
#
#   order.sh APP_URL SHA ROLLBACK(true|false) [CHECKED_FROM]    run inside the repository
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy-scripts/lib/common.sh
source "$here/../lib/common.sh"
script_init order.sh "order.sh APP_URL SHA true|false [CHECKED_FROM]"
[[ $# -ge 3 && $# -le 4 ]] || usage

url=$1 sha=$2 rollback=$3 checked=${4:-}
is_sha "$sha" || die "SHA must be a full commit SHA, got '$sha'" 64
[[ $rollback == true || $rollback == false ]] || die "ROLLBACK must be true or false, got '$rollback'" 64
[[ -z $checked || $checked == none ]] || is_sha "$checked" || die "CHECKED_FROM must be a SHA or none, got '$checked'" 64

if [[ $rollback == true ]]; then
  log "rollback to $sha: explicit, no ancestry check"
  printf 'action=rollback\nexpect_live=\n'
  exit 0
fi

live_line=$("$here/live-sha.sh" "$url")
live=${live_line#live=}

# True when commit $1 is an ancestor of (or equal to) commit $2.
is_ancestor() { git merge-base --is-ancestor "$1" "$2" 2>/dev/null; }

if [[ $live != none ]]; then
  git cat-file -e "$live^{commit}" 2>/dev/null ||
    die "the live commit $live is not in this repository's history (rewritten?); deploy refused"
fi
if [[ -n $checked && $checked != "$live" ]]; then
  if [[ $checked == none ]] || [[ $live == none ]] || ! is_ancestor "$checked" "$live"; then
    die "the live release moved from $checked to $live, outside the range this run checked; run it again"
  fi
fi
if [[ $live == none ]]; then
  log "nothing is live: deploying $sha"
  printf 'action=deploy\nexpect_live=none\n'
elif is_ancestor "$live" "$sha"; then
  log "live $live is an ancestor of $sha: deploying"
  printf 'action=deploy\nexpect_live=%s\n' "$live"
elif is_ancestor "$sha" "$live"; then
  log "live $live is newer than $sha (it descends from it): nothing to deploy"
  printf '::notice::%s is already superseded by the live %s; nothing deployed\n' "$sha" "$live" >&2
  printf 'action=none\nexpect_live=%s\n' "$live"
else
  die "the live release $live is not an ancestor of $sha: a run never replaces a release it does not descend from (roll back explicitly instead)"
fi
