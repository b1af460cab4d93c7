# shellcheck shell=bash
# Shared set-up of the bats tests: a temp state folder and the settings pointing at it.
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Point every setting at a fresh temp folder and source lib/common.sh.
setup_common() {
  TMP=$(mktemp -d)
  export REFLEX_DEPLOY_ENV="$TMP/deploy.env"
  export REFLEX_STATE_DIR="$TMP/state"
  export REFLEX_EDGE_SWITCH="$TMP/edge/live-green"
  export REFLEX_APP_ENV_FILE="$TMP/app.env"
  export REFLEX_BLUE_PORT=8081 REFLEX_GREEN_PORT=8082
  mkdir -p "$REFLEX_STATE_DIR"
  # shellcheck source-path=SCRIPTDIR/..
  source "$SCRIPTS/lib/common.sh"
}

teardown_common() { rm -rf "$TMP"; }

# Append a release record to the history: SHA OUTCOME [IMAGE].
add_release() {
  append_release "2026-01-01T00:00:0${#RELEASES}.000Z" "$1" "${3:-reg/reflex@sha256:$(printf '%064d' 0)}" "" blue "$2" 1.5 1.0 tester "2026-01-01T00:00:00.000Z"
  RELEASES+="x"
}
