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

# A host in a temp folder with the stub engine, curl and nginx of test/stub first on PATH.
setup_stub_host() {
  setup_common
  export STUB_ENGINE_DIR="$TMP/engine" PATH="$SCRIPTS/test/stub:$PATH" CONTAINER_ENGINE=docker
  export REFLEX_TEXTFILE_DIR="$TMP/state/textfile" REFLEX_FILE_SD="$TMP/state/prometheus/app.json"
  REFLEX_APP_UID=$(id -u)
  export REFLEX_APP_DATA_DIR="$TMP/state/app" REFLEX_APP_UID REFLEX_HOME="$TMP/opt"
  export REFLEX_SCRIPTS_DIR="$TMP/opt/deploy-scripts" REFLEX_SYSTEMD_DIR="$TMP/systemd"
  export REFLEX_NGINX_CONF="$TMP/nginx/nginx.conf" REFLEX_NGINX_SITE="$TMP/nginx/conf.d/reflex.conf"
  export REFLEX_NGINX_DEFAULT_SITE="$TMP/nginx/sites-enabled/default" REFLEX_EDGE_TOKEN_FILE="$TMP/edge-token"
  export REFLEX_ALERTING_ENV="$TMP/alerting.env" REFLEX_ALERTMANAGER_CONFIG="$TMP/alertmanager/alertmanager.yml"
  export REFLEX_DRAIN_SECONDS=0 REFLEX_HEALTH_TIMEOUT=3 REFLEX_LOCK_TIMEOUT=5
  mkdir -p "$STUB_ENGINE_DIR/registry" "$TMP/nginx/conf.d"
}

# Put an image of commit SHA $1 in the stub registry; print its reference.
publish_image() {
  local ref
  ref="reg.example/reflex@sha256:$(printf '%s' "$1" | sha256sum | cut -c1-64)"
  printf '%s' "$1" >"$STUB_ENGINE_DIR/registry/$(printf '%s' "$ref" | sha256sum | cut -c1-16)"
  printf '%s' "$ref"
}

# Print the SHA the stub edge serves now (what nginx would proxy to).
served_now() { curl -fsS "http://127.0.0.1:$(edge_port)/version" | jq -r .sha; }
