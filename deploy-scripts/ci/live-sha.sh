#!/usr/bin/env bash
# Prints `live=<sha>`: the commit an environment serves, from its public /version. When
# nothing answers with a commit (a first deploy, or the app is down) it prints `live=none`,
# which every consumer treats strictly: the policy checks all history, the gate runs every
# tier, and deploy.sh --expect-live none refuses to replace a release it does have.
#
#   live-sha.sh APP_URL
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init live-sha.sh "live-sha.sh APP_URL"
[[ $# -eq 1 ]] || usage

url=${1%/}
[[ $url =~ ^https?://[^[:space:]]+$ ]] || die "APP_URL is not an http(s) URL: '$url'" 64
require_commands curl jq

body=$(curl -fsS --max-time 10 --retry 2 --retry-connrefused "$url/version" 2>&1) || body=""
sha=$(jq -r '.sha // empty' <<<"$body" 2>/dev/null || true)
if is_sha "$sha"; then
  log "$url serves $sha"
  printf 'live=%s\n' "$sha"
else
  log "warning: $url/version reports no commit; treating the environment as having none live"
  printf 'live=none\n'
fi
