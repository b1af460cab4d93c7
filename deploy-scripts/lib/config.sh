# shellcheck shell=bash
# Messages, the header every entry script shares, settings and pure checks.
#
# Settings come from the environment, then from REFLEX_DEPLOY_ENV (default
# /etc/reflex/deploy.env, KEY=value lines), then from the defaults in load_config. The keys
# are documented in docs/HOST.md and deploy-scripts/README.md.

# Print a time-stamped message, prefixed with the running script's name, to stderr.
log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${REFLEX_SCRIPT:-deploy-scripts}" "$*" >&2; }

# Print an error and exit with status $2 (default 1).
die() { log "error: $1"; exit "${2:-1}"; }

# Print the usage line $1 and exit 64 (EX_USAGE).
usage_error() { printf 'usage: %s\n' "$1" >&2; exit 64; }

# Name the running script $1 with usage line $2; load_config then requires the engine and tools $3...
script_init() {
  REFLEX_SCRIPT=$1 REFLEX_USAGE=$2
  shift 2
  REFLEX_TOOLS=("$@")
}

# Print the running script's usage line and exit 64.
usage() { usage_error "$REFLEX_USAGE"; }

# Call $2 KEY VALUE WHERE (WHERE = file:line) for each KEY=value line of file $1, without one
# pair of surrounding quotes; blank lines and # comments are skipped, any other line stops the
# script naming the file and line.
each_env_line() {
  local file=$1 each=$2 line number=0
  while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z $line || $line == \#* ]] && continue
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "$file:$number: not a KEY=value line: $line" 78
    "$each" "${BASH_REMATCH[1]}" "$(strip_quotes "${BASH_REMATCH[2]}")" "$file:$number"
  done <"$file"
}

# Export KEY $1 as VALUE $2 unless the environment already sets it.
export_unset() { [[ -n ${!1+set} ]] || export "$1=$2"; }

# Export every KEY=value line of file $1 that the environment does not already set.
load_env_file() { each_env_line "$1" export_unset; }

# Print $1 without one pair of matching surrounding quotes.
strip_quotes() {
  local v=$1
  if [[ ${#v} -ge 2 && ( ($v == \"*\" ) || ($v == \'*\') ) ]]; then v=${v:1:${#v}-2}; fi
  printf '%s' "$v"
}

# Read the settings file (if present), apply defaults, validate, and require the script's tools.
load_config() {
  local env_file=${REFLEX_DEPLOY_ENV:-/etc/reflex/deploy.env}
  if [[ -f $env_file ]]; then load_env_file "$env_file"; fi
  : "${CONTAINER_ENGINE:=docker}"
  : "${REFLEX_IMAGE_REPOSITORY:=}"
  : "${REFLEX_DEPLOY_BRANCH:=main}"
  : "${REFLEX_BLUE_PORT:=8081}"
  : "${REFLEX_GREEN_PORT:=8082}"
  : "${REFLEX_APP_PORT:=3000}"
  : "${REFLEX_SITE_BLUE_PORT:=8091}"
  : "${REFLEX_SITE_GREEN_PORT:=8092}"
  : "${REFLEX_SITE_ENV_FILE:=/etc/reflex/site.env}"
  : "${REFLEX_SITE_USER:=65534:65534}"
  : "${REFLEX_SITE_MEMORY:=256m}"
  : "${REFLEX_SITE_PIDS:=64}"
  : "${REFLEX_SITE_NETWORK:=reflex-site}"
  : "${REFLEX_PLATFORM_NETWORK:=reflex-platform}"
  : "${REFLEX_STATE_DIR:=/var/lib/reflex}"
  : "${REFLEX_TEXTFILE_DIR:=$REFLEX_STATE_DIR/textfile}"
  : "${REFLEX_FILE_SD:=$REFLEX_STATE_DIR/prometheus/app.json}"
  : "${REFLEX_APP_ENV_FILE:=/etc/reflex/app.env}"
  : "${REFLEX_APP_DATA_DIR:=$REFLEX_STATE_DIR/app}"
  : "${REFLEX_APP_UID:=1000}"
  : "${REFLEX_NGINX_CONF:=/etc/nginx/nginx.conf}"
  : "${REFLEX_NGINX_SITE:=/etc/nginx/conf.d/reflex.conf}"
  : "${REFLEX_NGINX_DEFAULT_SITE:=/etc/nginx/sites-enabled/default}"
  : "${REFLEX_EDGE_TOKEN_FILE:=/etc/reflex/edge-token}"
  : "${REFLEX_EDGE_TRUSTED_PROXIES:=}"
  : "${REFLEX_ALERTING_ENV:=/etc/reflex/alerting.env}"
  : "${REFLEX_ALERTMANAGER_CONFIG:=/etc/reflex/alertmanager/alertmanager.yml}"
  : "${REFLEX_ALERTMANAGER_ADDRESS:=127.0.0.1:9093}"
  : "${REFLEX_EDGE_SWITCH:=$REFLEX_STATE_DIR/edge/live-green}"
  : "${REFLEX_EDGE_LISTEN:=80}"
  : "${REFLEX_SCRIPTS_DIR:=/opt/reflex/deploy-scripts}"
  : "${REFLEX_SYSTEMD_DIR:=/etc/systemd/system}"
  : "${REFLEX_HEALTH_TIMEOUT:=30}"
  : "${REFLEX_DRAIN_SECONDS:=5}"
  : "${REFLEX_STOP_TIMEOUT:=30}"
  : "${REFLEX_LOCK_TIMEOUT:=600}"
  : "${REFLEX_KEEP_RELEASES:=5}"
  : "${REFLEX_PREVIEW_DOMAIN:=}"
  : "${REFLEX_PREVIEW_MAX:=5}"
  : "${REFLEX_PREVIEW_PORTS:=8200-8299}"
  : "${REFLEX_PREVIEW_NETWORK:=reflex-preview}"
  : "${REFLEX_NGINX_PREVIEWS:=/etc/nginx/conf.d/reflex.previews.conf}"
  export CONTAINER_ENGINE REFLEX_STATE_DIR REFLEX_TEXTFILE_DIR REFLEX_EDGE_SWITCH
  validate_config
  if [[ -n ${REFLEX_TOOLS+set} ]]; then require_commands "$CONTAINER_ENGINE" "${REFLEX_TOOLS[@]}"; fi
}

# Check every numeric setting and the engine name; exit 78 naming the first bad key.
validate_config() {
  local key
  for key in REFLEX_BLUE_PORT REFLEX_GREEN_PORT REFLEX_APP_PORT REFLEX_SITE_BLUE_PORT REFLEX_SITE_GREEN_PORT; do
    is_port "${!key}" || die "$key must be a TCP port (1-65535), got '${!key}'" 78
  done
  if ! is_port "${REFLEX_EDGE_LISTEN##*:}" || ! [[ $REFLEX_EDGE_LISTEN =~ ^([0-9.]+:|\[[0-9a-f:]+\]:)?[0-9]+$ ]]; then
    die "REFLEX_EDGE_LISTEN must be PORT or ADDRESS:PORT, got '$REFLEX_EDGE_LISTEN'" 78
  fi
  for key in REFLEX_HEALTH_TIMEOUT REFLEX_DRAIN_SECONDS REFLEX_STOP_TIMEOUT REFLEX_LOCK_TIMEOUT REFLEX_KEEP_RELEASES \
    REFLEX_SITE_PIDS REFLEX_PREVIEW_MAX; do
    [[ ${!key} =~ ^[0-9]+$ ]] || die "$key must be a whole number, got '${!key}'" 78
  done
  local cidr
  for cidr in ${REFLEX_EDGE_TRUSTED_PROXIES//,/ }; do
    [[ $cidr =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ || $cidr =~ ^[0-9a-f:]+/[0-9]{1,3}$ ]] ||
      die "REFLEX_EDGE_TRUSTED_PROXIES must list CIDRs (comma or space separated), got '$cidr'" 78
  done
  [[ $REFLEX_BLUE_PORT != "$REFLEX_GREEN_PORT" ]] || die "REFLEX_BLUE_PORT and REFLEX_GREEN_PORT must differ" 78
  local ports
  ports=$(printf '%s\n' "$REFLEX_BLUE_PORT" "$REFLEX_GREEN_PORT" "$REFLEX_SITE_BLUE_PORT" "$REFLEX_SITE_GREEN_PORT" |
    sort | uniq -d | awk 'NR == 1')
  [[ -z $ports ]] || die "port $ports is given to two listeners: the platform's and the site's ports of both colors must all differ" 78
  [[ $REFLEX_SITE_USER =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || die "REFLEX_SITE_USER must be UID:GID, neither 0, got '$REFLEX_SITE_USER'" 78
  [[ $REFLEX_SITE_MEMORY =~ ^[1-9][0-9]*[kmg]$ ]] || die "REFLEX_SITE_MEMORY must be a size such as 256m, got '$REFLEX_SITE_MEMORY'" 78
  [[ $REFLEX_SITE_PIDS -ge 16 ]] || die "REFLEX_SITE_PIDS must be at least 16 (node runs about a dozen threads), got '$REFLEX_SITE_PIDS'" 78
  for key in REFLEX_SITE_NETWORK REFLEX_PLATFORM_NETWORK REFLEX_PREVIEW_NETWORK; do
    [[ ${!key} =~ ^[a-z0-9][a-z0-9_.-]{0,62}$ ]] || die "$key must be a network name, got '${!key}'" 78
  done
  [[ $REFLEX_SITE_NETWORK != "$REFLEX_PLATFORM_NETWORK" ]] || die "REFLEX_SITE_NETWORK and REFLEX_PLATFORM_NETWORK must differ" 78
  [[ $REFLEX_KEEP_RELEASES -ge 1 ]] || die "REFLEX_KEEP_RELEASES must be at least 1" 78
  validate_preview_config
  [[ $CONTAINER_ENGINE == docker || $CONTAINER_ENGINE == podman ]] ||
    die "CONTAINER_ENGINE must be docker or podman, got '$CONTAINER_ENGINE'" 78
}

# Check the preview settings (preview.sh, docs/HOST.md "Previews"); exit 78 naming the first bad key.
validate_preview_config() {
  local first last port
  [[ $REFLEX_PREVIEW_MAX -ge 1 ]] || die "REFLEX_PREVIEW_MAX must be at least 1, got '$REFLEX_PREVIEW_MAX'" 78
  first=${REFLEX_PREVIEW_PORTS%%-*} last=${REFLEX_PREVIEW_PORTS#*-}
  if [[ $REFLEX_PREVIEW_PORTS != *-* ]] || ! is_port "$first" || ! is_port "$last" || [[ $first -gt $last ]]; then
    die "REFLEX_PREVIEW_PORTS must be a range FIRST-LAST of TCP ports, got '$REFLEX_PREVIEW_PORTS'" 78
  fi
  for port in "$REFLEX_BLUE_PORT" "$REFLEX_GREEN_PORT" "$REFLEX_SITE_BLUE_PORT" "$REFLEX_SITE_GREEN_PORT"; do
    [[ $port -lt $first || $port -gt $last ]] ||
      die "REFLEX_PREVIEW_PORTS ($REFLEX_PREVIEW_PORTS) holds port $port of a release: the ranges must not overlap" 78
  done
  [[ -z $REFLEX_PREVIEW_DOMAIN || $REFLEX_PREVIEW_DOMAIN =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$ ]] ||
    die "REFLEX_PREVIEW_DOMAIN must be a domain name such as preview.example.com, got '$REFLEX_PREVIEW_DOMAIN'" 78
  [[ $REFLEX_PREVIEW_NETWORK != "$REFLEX_SITE_NETWORK" && $REFLEX_PREVIEW_NETWORK != "$REFLEX_PLATFORM_NETWORK" ]] ||
    die "REFLEX_PREVIEW_NETWORK must differ from the site's and the platform's networks" 78
}

# Fail naming every command in $@ that is not installed.
require_commands() {
  local missing=() cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
  [[ ${#missing[@]} -eq 0 ]] || die "missing commands: ${missing[*]}" 69
}

# True when $1 is a TCP port number.
is_port() { [[ $1 =~ ^[0-9]{1,5}$ && $1 -ge 1 && $1 -le 65535 ]]; }

# True when $1 is a full commit SHA (40 hex digits, or 64 for SHA-256 repositories).
is_sha() { [[ $1 =~ ^([0-9a-f]{40}|[0-9a-f]{64})$ ]]; }

# True when $1 names an image by tag or digest: registry/repository[:tag][@sha256:digest].
is_image_ref() {
  local name='[a-z0-9]+([._-][a-z0-9]+)*' tag='[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'
  local re="^($name(:[0-9]+)?/)?$name(/$name)*(:$tag)?(@sha256:[0-9a-f]{64})?$"
  [[ $1 =~ $re && ($1 == *@sha256:* || ${1##*/} == *:*) ]]
}

# Print the digest (sha256:...) in image reference $1, or nothing.
image_digest() { [[ $1 == *@sha256:* ]] && printf '%s' "${1##*@}"; return 0; }

# Print the current time as whole seconds since the epoch.
now_seconds() { date +%s; }

# Print seconds (3 decimals) elapsed since nanosecond timestamp $1.
seconds_since_ns() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# Print who runs the script (the sudo caller, if any).
invoking_user() { printf '%s' "${SUDO_USER:-${USER:-$(id -un)}}"; }
