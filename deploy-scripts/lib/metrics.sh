# shellcheck shell=bash
# Textfile metrics for node-exporter and Prometheus' file-SD list (each written atomically).

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
