#!/usr/bin/env bash
# Polls URL/version until it reports SHA, for at most TIMEOUT seconds (default 300); fails
# with what it saw last. The deploy workflow's last step, and a check anyone can run.
#
#   verify-version.sh URL SHA [TIMEOUT]
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init verify-version.sh "verify-version.sh URL SHA [TIMEOUT_SECONDS]"
[[ $# -ge 2 && $# -le 3 ]] || usage

url=${1%/} sha=$2 timeout=${3:-300}
[[ $url =~ ^https?://[^[:space:]]+$ ]] || die "not an http(s) URL: '$url'" 64
is_sha "$sha" || die "not a full commit SHA: '$sha'" 64
[[ $timeout =~ ^[0-9]+$ ]] || die "not a number of seconds: '$timeout'" 64
require_commands curl jq

deadline=$(($(now_seconds) + timeout))
seen="nothing"
while :; do
  body=$(curl -fsS --max-time 5 "$url/version" 2>&1) && seen=$(jq -r '.sha // "no sha"' <<<"$body" 2>/dev/null || echo "not JSON")
  [[ $seen == "$sha" ]] && { log "$url serves $sha"; exit 0; }
  [[ $(now_seconds) -lt $deadline ]] || break
  sleep 2
done
die "$url/version did not report $sha within ${timeout} s (last seen: $seen)"
