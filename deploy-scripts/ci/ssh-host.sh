#!/usr/bin/env bash
# The one ssh invocation of the deploy job: to the deploy host by its EC2 instance id, through
# the EC2 Instance Connect Endpoint (`aws ec2-instance-connect open-tunnel` as the ProxyCommand,
# so no port 22 is open to the internet), with the host key pinned: StrictHostKeyChecking yes
# against a known_hosts that holds exactly the stack's host key (pin-host-key.sh INSTANCE_ID 22).
# Tests put a loopback stand-in in place of the tunnel with REFLEX_SSH_PROXY_COMMAND; everything
# else is what the workflow runs.
#
#   ssh-host.sh [--print] USER@INSTANCE_ID [COMMAND...]
#     --print   print the ssh command line (one argument a line) instead of running it
#
# Settings: REFLEX_SSH_KEY (identity file, default ~/.ssh/deploy_key), REFLEX_SSH_KNOWN_HOSTS
# (default ~/.ssh/known_hosts), REFLEX_SSH_PROXY_COMMAND (default: the endpoint tunnel; ssh
# expands %h to the instance id and %p to 22).
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init ssh-host.sh "ssh-host.sh [--print] USER@INSTANCE_ID [COMMAND...]"
print=0
if [[ ${1:-} == --print ]]; then print=1; shift; fi
[[ $# -ge 1 ]] || usage
target=$1
shift
[[ $target =~ ^[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+$ ]] || die "not USER@INSTANCE_ID: '$target'" 64

key=${REFLEX_SSH_KEY:-$HOME/.ssh/deploy_key}
known_hosts=${REFLEX_SSH_KNOWN_HOSTS:-$HOME/.ssh/known_hosts}
proxy=${REFLEX_SSH_PROXY_COMMAND:-aws ec2-instance-connect open-tunnel --instance-id %h --remote-port %p}
[[ -r $key ]] || die "no readable identity file at $key (REFLEX_SSH_KEY)" 66
[[ -s $known_hosts ]] || die "no pinned host key in $known_hosts (run ci/pin-host-key.sh first)" 66

# Print the ssh command line, one argument a line: no config file, no agent, no prompt, and no
# host key but the pinned one.
ssh_command() {
  printf '%s\n' ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o UpdateHostKeys=no -o ProxyCommand="$proxy" -o ServerAliveInterval=15 -o ServerAliveCountMax=4 \
    -o ConnectTimeout=30 -o LogLevel=ERROR "$target" "$@"
}

if [[ $print -eq 1 ]]; then ssh_command "$@"; exit 0; fi
mapfile -t command < <(ssh_command "$@")
exec "${command[@]}"
