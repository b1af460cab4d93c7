#!/usr/bin/env bash
# Writes a known_hosts file that trusts exactly the pinned host key of the deploy host, so that
# ssh never trusts a key on first use. PINNED is the Pulumi stack output `sshHostKey`: either a
# public key ("ssh-ed25519 AAAA…", optionally with the host in front, as in known_hosts) or a
# fingerprint ("SHA256:…"). With a fingerprint the host's keys are scanned and only a key whose
# fingerprint matches is written; no match fails.
#
#   pin-host-key.sh HOST PORT PINNED KNOWN_HOSTS_FILE
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init pin-host-key.sh "pin-host-key.sh HOST PORT PINNED KNOWN_HOSTS_FILE"
[[ $# -eq 4 ]] || usage

host=$1 port=$2 pinned=$3 out=$4
is_port "$port" || die "not a TCP port: '$port'" 64
[[ $host =~ ^[A-Za-z0-9.:-]+$ ]] || die "not a host name or address: '$host'" 64

# Print the known_hosts name of HOST:PORT ([host]:port unless the port is 22).
known_hosts_name() { if [[ $2 == 22 ]]; then printf '%s' "$1"; else printf '[%s]:%s' "$1" "$2"; fi; }

# Print "TYPE KEY" from a public key or known_hosts line $1 (nothing if it is neither).
key_of() {
  local word
  read -r -a words <<<"$1"
  for ((i = 0; i < ${#words[@]} - 1; i++)); do
    word=${words[$i]}
    if [[ $word =~ ^(ssh-|ecdsa-|sk-) ]]; then printf '%s %s' "$word" "${words[$((i + 1))]}"; return; fi
  done
}

name=$(known_hosts_name "$host" "$port")
if [[ $pinned == SHA256:* ]]; then
  scanned=$(ssh-keyscan -p "$port" -T 10 "$host" 2>/dev/null) || true
  line=""
  while read -r scanned_line; do
    [[ -n $scanned_line ]] || continue
    fingerprint=$(ssh-keygen -lf - <<<"$scanned_line" | awk '{print $2}')
    if [[ $fingerprint == "$pinned" ]]; then line="$name $(key_of "$scanned_line")"; break; fi
  done <<<"$scanned"
  [[ -n $line ]] || die "no host key of $name matches the pinned fingerprint $pinned"
else
  key=$(key_of "$pinned")
  [[ -n $key ]] || die "the pinned host key is neither a public key nor a SHA256: fingerprint"
  line="$name $key"
fi
printf '%s\n' "$line" | write_atomic "$out"
chmod 0600 "$out"
log "pinned the host key of $name"
