# shellcheck shell=bash
# The deploy lock: an atomic mkdir, with a file naming the holder. Every script that changes the
# host's releases, edge or scripts takes it.

# Print the lock folder.
lock_dir() { printf '%s/lock' "$REFLEX_STATE_DIR"; }

# Print the holder line for holder $1 and release $2.
lock_holder_line() {
  printf 'holder=%s release=%s pid=%s since=%s\n' "$1" "${2:--}" "$$" "$(date -u +%FT%TZ)"
}

# Take the lock for holder $1, release $2, waiting up to $3 seconds; fail naming the holder.
acquire_lock() {
  local holder=$1 release=$2 wait=$3 dir deadline
  dir=$(lock_dir)
  deadline=$(($(now_seconds) + wait))
  mkdir -p "$REFLEX_STATE_DIR"
  until mkdir "$dir" 2>/dev/null; do
    break_stale_lock "$dir" && continue
    if [[ $(now_seconds) -ge $deadline ]]; then
      die "deploy lock held by $(lock_holder "$dir") (waited ${wait} s)" 75
    fi
    sleep 0.2
  done
  lock_holder_line "$holder" "$release" >"$dir/holder"
  REFLEX_LOCK_HELD=$dir
  trap release_lock EXIT
}

# Print who holds the lock in folder $1.
lock_holder() { cat "$1/holder" 2>/dev/null || echo "unknown (holder file not written yet)"; }

# Remove lock folder $1 when the process that took it on this host is gone; true if removed.
# Serialised with flock, so that two waiters never both break it (and the second never removes
# a lock the first has just taken).
break_stale_lock() {
  (
    flock 9
    pid=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' "$1/holder" 2>/dev/null)
    if [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null; then exit 1; fi
    log "breaking a stale lock: $(lock_holder "$1")"
    audit "lock-broken $(lock_holder "$1")"
    rm -rf "$1"
  ) 9>"$REFLEX_STATE_DIR/.lock-break"
}

# Release the lock this process holds (the EXIT trap).
release_lock() {
  if [[ -n ${REFLEX_LOCK_HELD:-} ]]; then rm -rf "$REFLEX_LOCK_HELD"; REFLEX_LOCK_HELD=""; fi
}
