#!/usr/bin/env bash
# Publishes this host's SSH host key, the public half only (the private key never leaves the
# host), to the SSM parameter the deploy workflow pins it from. Only this host's role may write
# that parameter. Run once per host by cloud-init (runcmd), as root, after cloud-init has made
# the key; run it again by hand after replacing the host key.
#
#   host-key.sh PARAMETER REGION
#
# REFLEX_HOST_KEY_FILE (default /etc/ssh/ssh_host_ed25519_key.pub) is the key it publishes;
# REFLEX_RETRY_SECONDS (default 3) is the first pause between attempts, which grows each time.
set -o errexit -o nounset -o pipefail

[[ $# -eq 2 ]] || { echo "usage: host-key.sh PARAMETER REGION" >&2; exit 64; }

readonly PARAMETER="$1"
readonly REGION="$2"
readonly KEY_FILE="${REFLEX_HOST_KEY_FILE:-/etc/ssh/ssh_host_ed25519_key.pub}"
readonly ATTEMPTS=5
readonly RETRY_SECONDS="${REFLEX_RETRY_SECONDS:-3}"

# Stops with a message that names what is wrong.
fail() {
  echo "[reflex-host-key] FAILED: $1" >&2
  exit 1
}

# Prints the key as "ssh-ed25519 <base64>", without the comment that names the host.
public_key() {
  local type key _comment
  read -r type key _comment <"${KEY_FILE}" || fail "cannot read ${KEY_FILE}"
  [[ "${type}" == ssh-ed25519 && "${key}" =~ ^[A-Za-z0-9+/]+=*$ ]] ||
    fail "${KEY_FILE} is not an ed25519 public key"
  printf '%s %s' "${type}" "${key}"
}

# Writes the parameter, retrying while the instance role's credentials or the network settle.
publish() {
  local attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    if aws ssm put-parameter --region "${REGION}" --name "${PARAMETER}" \
      --type String --overwrite --value "$1" --output text >/dev/null; then
      return 0
    fi
    sleep $((attempt * RETRY_SECONDS))
  done
  fail "could not write ${PARAMETER} in ${REGION} after ${ATTEMPTS} attempts"
}

key="$(public_key)"
if ! command -v aws >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=5 install --yes awscli
fi
publish "${key}"
echo "[reflex-host-key] published ${key%% *} host key to ${PARAMETER}"
