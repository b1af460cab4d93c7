# shellcheck shell=bash
# Monitoring: textfile metrics for node-exporter, Prometheus' file-SD list (each written
# atomically), and the receiver Alertmanager sends the alerts to.

# Print the host metrics (textfile-collector format) from the history and the live release.
host_metrics_text() {
  local live_sha=$1 live_color=$2 pinned=$3
  jq -rs --arg sha "$live_sha" --arg color "$live_color" --argjson pinned "$pinned" '
    def count(r): map(select(.outcome == r)) | length;
    def last_at(r): (map(select(.outcome == r)) | last | .at // null);
    def epoch: if . == null then null else (sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) end;
    "# HELP reflex_host_deploys_total Runs of deploy.sh on this host, by result.",
    "# TYPE reflex_host_deploys_total counter",
    "reflex_host_deploys_total{result=\"success\"} \(count("success"))",
    "reflex_host_deploys_total{result=\"failed\"} \(count("failed"))",
    "# HELP reflex_host_deploy_duration_seconds Duration of the last deploy.",
    "# TYPE reflex_host_deploy_duration_seconds gauge",
    "reflex_host_deploy_duration_seconds \((last | .durationSeconds) // 0)",
    "# HELP reflex_host_last_deploy_timestamp_seconds When the last deploy of each result ended.",
    "# TYPE reflex_host_last_deploy_timestamp_seconds gauge",
    (("success", "failed") as $r | (last_at($r) | epoch) as $t
      | select($t != null) | "reflex_host_last_deploy_timestamp_seconds{result=\"\($r)\"} \($t)"),
    "# HELP reflex_release_info 1 for the live release.",
    "# TYPE reflex_release_info gauge",
    (select($sha != "") | "reflex_release_info{sha=\"\($sha)\",color=\"\($color)\"} 1"),
    "# HELP reflex_host_pinned 1 while a rollback pin holds reconcile off.",
    "# TYPE reflex_host_pinned gauge",
    "reflex_host_pinned \($pinned)"
  ' "$(history_file)"
}

# Rewrite the host metrics file from the current state.
write_host_metrics() {
  local live_sha="" live_color="" pinned=0
  if [[ $(read_kv "$REFLEX_STATE_DIR/live" color) == "$(edge_color)" ]]; then
    live_color=$(edge_color)
    live_sha=$(read_kv "$REFLEX_STATE_DIR/live" sha)
  fi
  [[ -f $REFLEX_STATE_DIR/pinned ]] && pinned=1
  host_metrics_text "$live_sha" "$live_color" "$pinned" | write_atomic "$REFLEX_TEXTFILE_DIR/reflex_host.prom"
}

# Print the lag metric: 0 when the desired release is live, else seconds since it was recorded.
lag_metrics_text() {
  printf '# HELP reflex_desired_release_lag_seconds 0 when the desired release is live, else seconds since it was recorded.\n'
  printf '# TYPE reflex_desired_release_lag_seconds gauge\n'
  printf 'reflex_desired_release_lag_seconds %s\n' "$1"
}

# Print the file-SD target list for the app on port $1, release $2, color $3.
file_sd_json() {
  jq -n --arg target "127.0.0.1:$1" --arg sha "$2" --arg color "$3" \
    '[{targets: [$target], labels: {service: "reflex", sha: $sha, color: $color}}]'
}

# Print Alertmanager's configuration: every alert to one receiver, "operator", with a webhook,
# Slack and/or email from the settings REFLEX_ALERT_* (/etc/reflex/alerting.env). No setting: a
# receiver without integrations, so alerts are kept and visible in Alertmanager but sent nowhere.
alertmanager_config_text() {
  local key
  for key in ${!REFLEX_ALERT_*}; do
    [[ ${!key} != *[\'$'\n'$'\r']* ]] || die "$key must not contain quotes or line breaks" 78
  done
  printf '%s\n' '# Rendered by install-host.sh from /etc/reflex/alerting.env (docs/MONITORING.md).' \
    'route:' '  receiver: operator' '  group_by: [alertname]' '  group_wait: 30s' \
    '  group_interval: 5m' '  repeat_interval: 4h' 'receivers:' '  - name: operator'
  if [[ -n ${REFLEX_ALERT_WEBHOOK_URL:-} ]]; then
    printf '%s\n' '    webhook_configs:' "      - url: '$REFLEX_ALERT_WEBHOOK_URL'" '        send_resolved: true'
  fi
  if [[ -n ${REFLEX_ALERT_SLACK_WEBHOOK_URL:-} ]]; then
    printf '%s\n' '    slack_configs:' "      - api_url: '$REFLEX_ALERT_SLACK_WEBHOOK_URL'" \
      "        channel: '${REFLEX_ALERT_SLACK_CHANNEL:-#alerts}'" '        send_resolved: true'
  fi
  if [[ -n ${REFLEX_ALERT_EMAIL_TO:-} ]]; then
    [[ -n ${REFLEX_ALERT_EMAIL_FROM:-} && -n ${REFLEX_ALERT_SMTP_HOST:-} ]] ||
      die "REFLEX_ALERT_EMAIL_TO needs REFLEX_ALERT_EMAIL_FROM and REFLEX_ALERT_SMTP_HOST (host:port)" 78
    printf '%s\n' '    email_configs:' "      - to: '$REFLEX_ALERT_EMAIL_TO'" \
      "        from: '$REFLEX_ALERT_EMAIL_FROM'" "        smarthost: '$REFLEX_ALERT_SMTP_HOST'" \
      "        auth_username: '${REFLEX_ALERT_SMTP_USERNAME:-}'" "        auth_password: '${REFLEX_ALERT_SMTP_PASSWORD:-}'" \
      '        send_resolved: true'
  fi
}

# Render Alertmanager's configuration from REFLEX_ALERTING_ENV into REFLEX_ALERTMANAGER_CONFIG,
# readable by the container's user (nobody, group 65534) and no other. A running Alertmanager
# reloads a changed file (best effort: the stack may not run yet).
install_alertmanager_config() {
  local text
  text=$(
    if [[ -f $REFLEX_ALERTING_ENV ]]; then load_env_file "$REFLEX_ALERTING_ENV"; fi
    alertmanager_config_text
  )
  [[ -f $REFLEX_ALERTMANAGER_CONFIG && $(cat "$REFLEX_ALERTMANAGER_CONFIG") == "$text" ]] && return 0
  printf '%s\n' "$text" | write_atomic "$REFLEX_ALERTMANAGER_CONFIG" 0640
  chgrp 65534 "$REFLEX_ALERTMANAGER_CONFIG"
  if curl -fsS --max-time 5 -X POST -o /dev/null "http://$REFLEX_ALERTMANAGER_ADDRESS/-/reload" 2>/dev/null; then
    log "Alertmanager reloaded its receiver"
  fi
}
