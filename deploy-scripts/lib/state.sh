# shellcheck shell=bash
# Host state under REFLEX_STATE_DIR: the audit log, the release history (releases.jsonl) and
# key=value files (live, desired, pinned), each written atomically.

# Append one line to the audit log: time, who, what.
audit() {
  mkdir -p "$REFLEX_STATE_DIR"
  printf '%s user=%s %s\n' "$(date -u +%FT%TZ)" "$(invoking_user)" "$*" >>"$REFLEX_STATE_DIR/audit.log"
}

# Write stdin to file $1 atomically (temp file beside it, then rename), with mode $2 (0644).
write_atomic() {
  local target=$1 mode=${2:-0644} tmp
  mkdir -p "$(dirname "$target")"
  tmp=$(mktemp "$target.tmp.XXXXXX")
  if ! cat >"$tmp"; then rm -f "$tmp"; die "could not write $target"; fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$target"
}

# Print the value of key $2 in KEY=value file $1 (nothing when absent).
read_kv() { [[ -f $1 ]] && sed -n "s/^$2=//p" "$1" | tail -n 1; return 0; }

# Set KEY $2 to value $3 in KEY=value file $1 (mode 0600 kept), replacing any earlier line.
set_env_line() {
  local file=$1 key=$2 value=$3 rest=""
  [[ -f $file ]] && rest=$(grep -v "^$key=" "$file" || true)
  printf '%s%s=%s\n' "${rest:+$rest$'\n'}" "$key" "$value" | write_atomic "$file" 0600
}

# Print one release record (JSON) from key=value arguments.
release_record() {
  jq -nc '$ARGS.named | .durationSeconds |= tonumber | .switchSeconds |= (if . == "" then null else tonumber end)' \
    --arg at "$1" --arg sha "$2" --arg image "$3" --arg digest "$4" --arg color "$5" \
    --arg outcome "$6" --arg durationSeconds "$7" --arg switchSeconds "$8" --arg by "$9" --arg startedAt "${10}"
}

# Append a release record to the history (releases.jsonl).
append_release() { release_record "$@" >>"$REFLEX_STATE_DIR/releases.jsonl"; }

# Print the release history file (empty when none yet).
history_file() { local f="$REFLEX_STATE_DIR/releases.jsonl"; [[ -f $f ]] || : >"$f"; printf '%s' "$f"; }

# Print the SHAs of the newest $1 distinct successful releases, newest first. Every command of
# the pipe reads its whole input: a `head` here would close the pipe early, and under pipefail
# the writer's SIGPIPE (141) failed the script after the release was already live.
kept_shas() {
  jq -r 'select(.outcome == "success") | .sha' "$(history_file)" | tac |
    awk -v n="$1" '!seen[$0]++ && kept < n { print; kept++ }'
}

# Print the image of the newest successful release of SHA $1.
release_image() {
  jq -r --arg sha "$1" 'select(.outcome == "success" and .sha == $sha) | .image' "$(history_file)" | tail -n 1
}

# Print the full SHA of the newest successful release whose SHA starts with $1 (7+ hex digits).
resolve_release_sha() {
  [[ $1 =~ ^[0-9a-f]{7,64}$ ]] || die "not a commit SHA: '$1'" 64
  jq -r --arg p "$1" 'select(.outcome == "success" and (.sha | startswith($p))) | .sha' "$(history_file)" |
    awk '!seen[$0]++' | {
    mapfile -t found
    [[ ${#found[@]} -eq 1 ]] || die "'$1' matches ${#found[@]} released SHAs (need exactly one)" 64
    printf '%s' "${found[0]}"
  }
}

# Print the pin file (present while a rollback holds reconcile off).
pin_file() { printf '%s/pinned' "$REFLEX_STATE_DIR"; }

# Remove the rollback pin, if any, recording reason $1 in the audit log.
end_pin() {
  local pinned
  pinned=$(pin_file)
  [[ -f $pinned ]] || return 0
  audit "unpin ($1) $(tr '\n' ' ' <"$pinned")"
  rm -f "$pinned"
}

# Print the SHA of the newest successful release other than SHA $1.
previous_release_sha() {
  jq -r --arg live "$1" 'select(.outcome == "success" and .sha != $live) | .sha' "$(history_file)" | tail -n 1
}
