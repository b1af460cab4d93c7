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

# Print nginx config $1 (nginx/reflex.conf) with this host's listen address, ports and switch file.
render_edge_conf() {
  sed -e "s#/var/lib/reflex/edge/live-green#$REFLEX_EDGE_SWITCH#" \
    -e "s#127\.0\.0\.1:8081;#127.0.0.1:$REFLEX_BLUE_PORT;#" \
    -e "s#127\.0\.0\.1:8082;#127.0.0.1:$REFLEX_GREEN_PORT;#" \
    -e "s#^\([[:space:]]*\)listen 80 default_server;#\1listen $REFLEX_EDGE_LISTEN default_server;#" \
    "$1"
}

# Check the nginx configuration, then reload nginx gracefully (after install-host.sh only).
reload_nginx() {
  nginx -c "$REFLEX_NGINX_CONF" -t -q || return 1
  nginx -c "$REFLEX_NGINX_CONF" -s reload
}
