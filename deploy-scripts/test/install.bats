#!/usr/bin/env bats
# install-host.sh and install-bundle.sh against stub nginx and engine (test/stub): Debian's
# packaged default site, reloads only on change, a rejected config never stays, the edge token,
# the deploy lock around a bundle, and a monitoring failure that never blocks the app.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  setup_stub_host
  mkdir -p "$TMP/nginx/sites-available" "$TMP/nginx/sites-enabled"
  echo 'server { listen 80 default_server; }' >"$TMP/nginx/sites-available/default"
  ln -s ../sites-available/default "$REFLEX_NGINX_DEFAULT_SITE"
}
teardown() { teardown_common; }

reloads() { grep -c -- '-s reload' "$STUB_ENGINE_DIR/nginx.log" || true; }

# A host bundle of this checkout, as the deploy workflow builds it.
bundle() { tar -C "$SCRIPTS/.." -czf "$TMP/bundle.tgz" deploy-scripts compose.yaml prometheus grafana; }

@test "install-host.sh disables Debian's packaged default site, whose default_server clashes with the edge's" {
  run "$SCRIPTS/install-host.sh"
  [ "$status" -eq 0 ]
  [ ! -e "$REFLEX_NGINX_DEFAULT_SITE" ]
  [ -f "$TMP/nginx/sites-available/default" ]
  [[ $output == *"disabled the packaged default site"* ]]
  grep -q 'listen 80 default_server;' "$REFLEX_NGINX_SITE"
}

@test "install-host.sh reloads nginx only when the edge configuration changed" {
  "$SCRIPTS/install-host.sh"
  [ "$(reloads)" -eq 1 ]
  run "$SCRIPTS/install-host.sh"
  [ "$status" -eq 0 ]
  [[ $output == *"nginx configuration unchanged: no reload"* ]]
  [ "$(reloads)" -eq 1 ]
  REFLEX_BLUE_PORT=9001 "$SCRIPTS/install-host.sh"
  [ "$(reloads)" -eq 2 ]
}

@test "install-host.sh keeps the previous edge configuration when nginx rejects the new one" {
  "$SCRIPTS/install-host.sh"
  before=$(cat "$REFLEX_NGINX_SITE")
  run env REFLEX_BLUE_PORT=9001 STUB_NGINX_REJECTS='a duplicate default server for 0.0.0.0:80' "$SCRIPTS/install-host.sh"
  [ "$status" -eq 1 ]
  [[ $output == *"nginx rejects the edge configuration (the previous one is kept): nginx: a duplicate default server"* ]]
  [ "$(cat "$REFLEX_NGINX_SITE")" = "$before" ]
  [ "$(reloads)" -eq 1 ]
}

@test "the edge token: made once in a 0600 file, sent by nginx, and given to the app in app.env" {
  "$SCRIPTS/install-host.sh"
  token=$(cat "$TMP/edge-token")
  [[ $token =~ ^[0-9a-f]{64}$ ]]
  [ "$(stat -c %a "$TMP/edge-token")" = 600 ]
  [ "$(stat -c %a "$REFLEX_NGINX_SITE")" = 600 ]
  [ "$(stat -c %a "$REFLEX_APP_ENV_FILE")" = 600 ]
  grep -qF "proxy_set_header X-Reflex-Edge \"$token\";" "$REFLEX_NGINX_SITE"
  grep -qx "REFLEX_EDGE_TOKEN=$token" "$REFLEX_APP_ENV_FILE"
  "$SCRIPTS/install-host.sh"
  [ "$(cat "$TMP/edge-token")" = "$token" ]
  [ "$(grep -c '^REFLEX_EDGE_TOKEN=' "$REFLEX_APP_ENV_FILE")" -eq 1 ]
}

@test "the edge sets X-Forwarded-For to the address it decided, trusting only the listed proxies" {
  REFLEX_EDGE_TRUSTED_PROXIES=10.0.0.0/16 "$SCRIPTS/install-host.sh"
  grep -q 'set_real_ip_from 10.0.0.0/16;' "$REFLEX_NGINX_SITE"
  grep -q 'proxy_set_header X-Forwarded-For $remote_addr;' "$REFLEX_NGINX_SITE"
  run ! grep -q 'proxy_add_x_forwarded_for' "$REFLEX_NGINX_SITE"
  run env REFLEX_EDGE_TRUSTED_PROXIES='10.0.0.0/16 everyone' "$SCRIPTS/install-host.sh"
  [ "$status" -eq 78 ]
  [[ $output == *"REFLEX_EDGE_TRUSTED_PROXIES must list CIDRs (comma or space separated), got 'everyone'"* ]]
}

@test "install-bundle.sh takes the deploy lock: while another holds it, it waits and then installs nothing" {
  bundle
  bash -c "source '$SCRIPTS/lib/common.sh'; acquire_lock deploy.sh x 0; sleep 4" &
  for _ in $(seq 50); do [ -f "$REFLEX_STATE_DIR/lock/holder" ] && break; sleep 0.1; done
  run env REFLEX_LOCK_TIMEOUT=1 bash "$SCRIPTS/install-bundle.sh" abcdef0 <"$TMP/bundle.tgz"
  wait
  [ "$status" -eq 75 ]
  [[ $output == *"deploy lock held by holder=deploy.sh"* ]]
  [ ! -e "$REFLEX_HOME/bundle-sha" ]
  [ ! -e "$REFLEX_NGINX_SITE" ]
  run bash "$SCRIPTS/install-bundle.sh" abcdef0 <"$TMP/bundle.tgz"
  [ "$status" -eq 0 ]
  [ "$(cat "$REFLEX_HOME/bundle-sha")" = abcdef0 ]
  [ ! -d "$REFLEX_STATE_DIR/lock" ]
}

@test "a monitoring stack that fails to start is reported, and the bundle still installs" {
  bundle
  run env STUB_COMPOSE_FAILS='pull access denied for prom/prometheus' bash "$SCRIPTS/install-bundle.sh" abcdef0 <"$TMP/bundle.tgz"
  [ "$status" -eq 0 ]
  [[ $output == *"WARNING: the monitoring stack did not start (the app's deploy goes on): compose: pull access denied"* ]]
  [[ $output == *"installed the bundle of abcdef0"* ]]
  grep -q 'monitoring-failed bundle=abcdef0' "$REFLEX_STATE_DIR/audit.log"
}

@test "Alertmanager's receiver comes from alerting.env: a webhook, Slack and email, readable by its container only" {
  printf '%s\n' 'REFLEX_ALERT_WEBHOOK_URL=http://127.0.0.1:9/alerts' 'REFLEX_ALERT_SLACK_WEBHOOK_URL=https://hooks.slack.invalid/T0/B0/x' \
    'REFLEX_ALERT_EMAIL_TO=ops@example.invalid' 'REFLEX_ALERT_EMAIL_FROM=reflex@example.invalid' \
    'REFLEX_ALERT_SMTP_HOST=smtp.example.invalid:587' >"$REFLEX_ALERTING_ENV"
  run "$SCRIPTS/install-host.sh"
  [ "$status" -eq 0 ]
  config=$(cat "$REFLEX_ALERTMANAGER_CONFIG")
  [[ $config == *$'receivers:\n  - name: operator\n    webhook_configs:\n      - url: \'http://127.0.0.1:9/alerts\''* ]]
  [[ $config == *"api_url: 'https://hooks.slack.invalid/T0/B0/x'"* ]]
  [[ $config == *"to: 'ops@example.invalid'"*"smarthost: 'smtp.example.invalid:587'"* ]]
  [ "$(stat -c '%a %g' "$REFLEX_ALERTMANAGER_CONFIG")" = '640 65534' ]
  [ -z "${REFLEX_ALERT_WEBHOOK_URL:-}" ]
}

@test "Alertmanager's settings: email needs a sender and a server; a quote in a value is refused" {
  echo 'REFLEX_ALERT_EMAIL_TO=ops@example.invalid' >"$REFLEX_ALERTING_ENV"
  run "$SCRIPTS/install-host.sh"
  [ "$status" -eq 78 ]
  [[ $output == *"REFLEX_ALERT_EMAIL_TO needs REFLEX_ALERT_EMAIL_FROM and REFLEX_ALERT_SMTP_HOST"* ]]
  echo "REFLEX_ALERT_WEBHOOK_URL=http://x/'a" >"$REFLEX_ALERTING_ENV"
  run "$SCRIPTS/install-host.sh"
  [ "$status" -eq 78 ]
  [[ $output == *"REFLEX_ALERT_WEBHOOK_URL must not contain quotes or line breaks"* ]]
  rm "$REFLEX_ALERTING_ENV"
  run "$SCRIPTS/install-host.sh"
  [ "$status" -eq 0 ]
  [[ $(cat "$REFLEX_ALERTMANAGER_CONFIG") == *$'  - name: operator' ]]
}
