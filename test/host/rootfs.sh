#!/usr/bin/env bash
# Builds the host tier's Debian 13 (trixie) root filesystem with mmdebstrap from Debian's
# packages, and imports it as a container image. The tar is cached under CACHE_DIR by a hash of
# everything that decides its content (suite, variant, package list, the hooks below and this
# script), so a rerun with the same inputs skips mmdebstrap and only imports.
#
# The packages are the ones the production host has: systemd as init, cloud-init, sshd and sudo
# (what Debian's cloud image brings), plus every package pulumi/bootstrap.sh installs, read from
# its PACKAGES line, so that a package missing from trixie fails the build here as it would fail
# the first boot.
#
#   rootfs.sh IMAGE_NAME [CACHE_DIR]     (CACHE_DIR default: /var/cache/reflex-test)
# Prints the path of the cached tar. Uses podman with the caller's CONTAINERS_* environment.
set -o errexit -o nounset -o pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: rootfs.sh IMAGE_NAME [CACHE_DIR]" >&2
  exit 64
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
image=$1
cache=${2:-${REFLEX_HOST_CACHE:-/var/cache/reflex-test}}
readonly SUITE=trixie VARIANT=apt MIRROR=http://deb.debian.org/debian

# Print the packages pulumi/bootstrap.sh installs (its `readonly PACKAGES=(...)` line).
bootstrap_packages() {
  local line
  line=$(grep -E '^readonly PACKAGES=\(' ../../pulumi/bootstrap.sh) || {
    echo "rootfs.sh: no 'readonly PACKAGES=(...)' line in pulumi/bootstrap.sh" >&2
    return 1
  }
  line=${line#*\(}
  line=${line%\)*}
  read -r -a words <<<"$line"
  printf '%s\n' "${words[@]}"
}

# What a Debian cloud image brings before the user data runs.
base_packages=(systemd systemd-sysv dbus cloud-init openssh-server sudo ca-certificates iproute2 procps e2fsprogs)
mapfile -t host_packages < <(bootstrap_packages)
packages=$(printf '%s\n' "${base_packages[@]}" "${host_packages[@]}" | sort -u | paste -sd, -)

# The test-only part of the image, each line for what a container is not: cloud-init reads only
# the NoCloud seed (an EC2 AMI reads only its own datasource, and nothing here may probe EC2's
# metadata address), and leaves the network alone (the container engine gives the container
# its network; on EC2 it is the AMI's DHCP); / is made a shared mount before Docker starts, as
# systemd does itself at boot on a machine but not in a container (compose.yaml's node-exporter
# mounts / with rslave); machine-id is made at each boot, as on a new AMI.
# shellcheck disable=SC2016 # expanded by mmdebstrap's hook shell
customize=$(cat <<'HOOK'
mkdir -p "$1/etc/cloud/cloud.cfg.d" && printf '%s\n' 'datasource_list: [ NoCloud, None ]' 'network: {config: disabled}' >"$1/etc/cloud/cloud.cfg.d/90-reflex-host-tier.cfg" && printf '%s\n' '[Unit]' 'Description=Shared root mount, as systemd makes it outside a container' 'DefaultDependencies=no' 'Before=docker.service containerd.service' '[Service]' 'Type=oneshot' 'ExecStart=/usr/bin/mount --make-rshared /' '[Install]' 'WantedBy=sysinit.target' >"$1/etc/systemd/system/host-tier-shared-root.service" && mkdir -p "$1/etc/systemd/system/sysinit.target.wants" && ln -s ../host-tier-shared-root.service "$1/etc/systemd/system/sysinit.target.wants/" && : >"$1/etc/machine-id"
HOOK
)

key=$(printf '%s\n' "$SUITE" "$VARIANT" "$MIRROR" "$packages" "$customize" | sha256sum | cut -c1-16)
tar="$cache/debian-$SUITE-host-$key.tar"
mkdir -p "$cache"
if [[ ! -s $tar ]]; then
  echo "rootfs.sh: building $tar (packages: $packages)" >&2
  rm -f "$tar.partial"
  mmdebstrap --format=tar --variant="$VARIANT" --include="$packages" \
    --customize-hook="$customize" \
    "$SUITE" "$tar.partial" "$MIRROR" >&2
  mv "$tar.partial" "$tar"
  # Only the newest rootfs is kept.
  find "$cache" -maxdepth 1 -name "debian-$SUITE-host-*.tar" ! -name "$(basename "$tar")" -delete
else
  echo "rootfs.sh: cached $tar" >&2
fi
podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' "$tar" "$image" >/dev/null
printf '%s\n' "$tar"
