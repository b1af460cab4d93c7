#!/usr/bin/env bash
# Alerts when CI fails on a pushed branch: one open issue per branch ("CI failing on BRANCH"),
# commented on at each further failure, so that a failure nobody was waiting for (a tier that
# a content deploy did not gate on) reaches people instead of only the pusher's inbox.
#
#   alert.sh BRANCH SHA RUN_URL       needs gh with GH_TOKEN (issues: write) and GH_REPO
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init alert.sh "alert.sh BRANCH SHA RUN_URL"
[[ $# -eq 3 ]] || usage

branch=$1 sha=$2 run_url=$3
is_sha "$sha" || die "not a full commit SHA: '$sha'" 64
[[ $run_url =~ ^https://[^[:space:]]+$ ]] || die "not an https URL: '$run_url'" 64
require_commands gh

title="CI failing on $branch"
body="CI failed on \`$branch\` at $sha: $run_url"
number=$(gh issue list --state open --search "\"$title\" in:title" --json number,title \
  --jq "map(select(.title == \"${title//\"/\\\"}\")) | first | .number // empty")
if [[ -n $number ]]; then
  gh issue comment "$number" --body "$body" >/dev/null
  log "commented on issue #$number: $title"
else
  gh issue create --title "$title" --body "$body" >/dev/null
  log "opened an issue: $title"
fi
