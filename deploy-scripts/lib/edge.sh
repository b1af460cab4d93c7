# shellcheck shell=bash
# Colors and the nginx edge. The edge picks the live color per request: green while the switch
# file exists, else blue (nginx/reflex.conf). Flipping it is one atomic file operation and needs
# no nginx reload, so no keep-alive connection is ever closed by a switch.

# Print the other color: blue <-> green.
other_color() {
  case $1 in
    blue) echo green ;;
    green) echo blue ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Print the host port of color $1.
color_port() {
  case $1 in
    blue) echo "$REFLEX_BLUE_PORT" ;;
    green) echo "$REFLEX_GREEN_PORT" ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Print the host port of the site of color $1.
site_port() {
  case $1 in
    blue) echo "$REFLEX_SITE_BLUE_PORT" ;;
    green) echo "$REFLEX_SITE_GREEN_PORT" ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Print the color the edge sends traffic to now.
edge_color() { if [[ -e $REFLEX_EDGE_SWITCH ]]; then echo green; else echo blue; fi; }

# Print the port the edge sends traffic to now.
edge_port() { color_port "$(edge_color)"; }

# Point the edge at color $1 (atomically: a rename or an unlink).
switch_edge() {
  mkdir -p "$(dirname "$REFLEX_EDGE_SWITCH")"
  case $1 in
    green) printf 'green\n' | write_atomic "$REFLEX_EDGE_SWITCH" ;;
    blue) rm -f "$REFLEX_EDGE_SWITCH" ;;
    *) die "not a color: '$1'" ;;
  esac
}

# Print nginx config $1 (nginx/reflex.conf) with this host's listen address, ports, switch file,
# trusted proxies and edge token $2.
render_edge_conf() {
  local proxies="" cidr
  for cidr in ${REFLEX_EDGE_TRUSTED_PROXIES//,/ }; do proxies+="set_real_ip_from $cidr; "; done
  sed -e "s#/var/lib/reflex/edge/live-green#$REFLEX_EDGE_SWITCH#" \
    -e "s#127\.0\.0\.1:8081;#127.0.0.1:$REFLEX_BLUE_PORT;#" \
    -e "s#127\.0\.0\.1:8082;#127.0.0.1:$REFLEX_GREEN_PORT;#" \
    -e "s#127\.0\.0\.1:8091;#127.0.0.1:$REFLEX_SITE_BLUE_PORT;#" \
    -e "s#127\.0\.0\.1:8092;#127.0.0.1:$REFLEX_SITE_GREEN_PORT;#" \
    -e "s#^\([[:space:]]*\)listen 80\( default_server\)\{0,1\};#\1listen $REFLEX_EDGE_LISTEN\2;#" \
    -e "s|^\([[:space:]]*\)# @trusted-proxies@|\1${proxies:-# (no trusted proxy listed)}|" \
    -e "s#@edge-token@#$2#" \
    "$1"
}

# Print the edge token (creating its 0600 file once): the app trusts forwarded headers only with it.
edge_token() {
  if [[ ! -s $REFLEX_EDGE_TOKEN_FILE ]]; then
    mkdir -p "$(dirname "$REFLEX_EDGE_TOKEN_FILE")"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$REFLEX_EDGE_TOKEN_FILE")
  fi
  cat "$REFLEX_EDGE_TOKEN_FILE"
}

# True when nginx runs (its master answers a signal through its pid file).
nginx_running() { nginx -c "$REFLEX_NGINX_CONF" -s reopen 2>/dev/null; }

# Check the nginx configuration, then reload nginx gracefully (after install-host.sh only).
reload_nginx() {
  nginx -c "$REFLEX_NGINX_CONF" -t -q || return 1
  nginx -c "$REFLEX_NGINX_CONF" -s reload
}

# Install edge config text (stdin) as REFLEX_NGINX_SITE, mode 0600 (it holds the edge token).
# Prints "same" or "new" (install_nginx_conf).
install_edge_conf() { install_nginx_conf "$REFLEX_NGINX_SITE" 0600 "the edge configuration"; }

# Install nginx config text (stdin) as file $1 with mode $2; $3 names it in messages. Prints
# "same" or "new". A text nginx rejects never stays: the previous file is put back (or the new
# one removed) and the script stops with nginx's reason, so a reboot still starts the edge that
# worked.
install_nginx_conf() {
  local target=$1 mode=$2 what=$3 text previous="" reason
  text=$(cat)
  if [[ -f $target ]]; then
    previous=$(cat "$target")
    if [[ $previous == "$text" ]]; then echo same; return 0; fi
  fi
  printf '%s\n' "$text" | write_atomic "$target" "$mode"
  if ! reason=$(nginx -c "$REFLEX_NGINX_CONF" -t 2>&1); then
    if [[ -n $previous ]]; then printf '%s\n' "$previous" | write_atomic "$target" "$mode"; else rm -f "$target"; fi
    die "nginx rejects $what (the previous one is kept): $reason"
  fi
  echo new
}

# Disable Debian's packaged default site (its `listen 80 default_server` clashes with the edge's);
# prints "new" when it was enabled.
disable_packaged_default_site() {
  [[ -L $REFLEX_NGINX_DEFAULT_SITE || -e $REFLEX_NGINX_DEFAULT_SITE ]] || return 0
  rm -f "$REFLEX_NGINX_DEFAULT_SITE"
  log "disabled the packaged default site $REFLEX_NGINX_DEFAULT_SITE (the edge is the default server)"
  echo new
}
