#!/usr/bin/env bash
# Installs, from Debian's packages, every system tool the test tiers use:
# Chromium (browser tier), Prometheus and node-exporter (monitoring tier),
# podman, a registry, sshd and nginx (deploy tier), shellcheck and bats (scripts tier),
# wrk (load). Idempotent; run as root (CI runs it from .ci/run).
set -o errexit -o nounset -o pipefail

if [[ $# -ne 0 ]]; then
  echo "usage: $0   (no arguments; installs the test tools with apt-get)" >&2
  exit 64
fi

packages=(
  git ca-certificates curl tar util-linux iproute2
  chromium
  prometheus prometheus-node-exporter prometheus-alertmanager
  podman buildah runc uidmap docker-registry openssh-server openssh-client nginx-light busybox-static jq util-linux
  mmdebstrap
  shellcheck bats wrk
)

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

# Services from these packages must not start on their own: the tests start their own
# instances on loopback ports. policy-rc.d answers 101 ("action forbidden") to invoke-rc.d.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && $sudo rm -f "$policy"' EXIT

echo "==> apt-get update"
$sudo apt-get update -qq
echo "==> installing: ${packages[*]}"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
echo "==> installed test tools"
