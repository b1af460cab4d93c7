#!/usr/bin/env bash
# Makes the host's data volume its state folder. Run once per host by cloud-init (runcmd), as
# root, before bootstrap.sh: waits for the EBS volume EC2 attaches after the instance starts,
# puts a filesystem on it only when it holds none (a volume that outlived an earlier host keeps
# its data), grows the filesystem to the volume's size, and mounts it through /etc/fstab so that
# every later boot mounts it before Docker starts (and Docker does not start without it).
#
#   data-volume.sh DEVICE MOUNTPOINT
#
# REFLEX_DATA_WAIT_SECONDS (default 300) bounds the wait for the device; REFLEX_FSTAB (default
# /etc/fstab) is the table it writes.
set -o errexit -o nounset -o pipefail

[[ $# -eq 2 ]] || { echo "usage: data-volume.sh DEVICE MOUNTPOINT" >&2; exit 64; }

readonly DEVICE="$1"
readonly MOUNTPOINT="$2"
readonly FSTAB="${REFLEX_FSTAB:-/etc/fstab}"
readonly LABEL=reflex-data
readonly WAIT_SECONDS="${REFLEX_DATA_WAIT_SECONDS:-300}"

# Prints a step header.
step() { printf '\n[reflex-data] %s\n' "$1"; }

# Stops with a message that names what is wrong.
fail() {
  echo "[reflex-data] FAILED: $1" >&2
  exit 1
}

# Waits for the device node: the attachment comes after the instance is running.
wait_for_device() {
  local waited=0
  until [[ -e "${DEVICE}" ]]; do
    ((waited < WAIT_SECONDS)) ||
      fail "${DEVICE} did not appear within ${WAIT_SECONDS}s: is the data volume attached?"
    sleep 1
    waited=$((waited + 1))
  done
}

# Puts an ext4 filesystem on the device only when blkid finds no signature at all on it.
format_if_blank() {
  local type status=0
  type="$(blkid --probe --match-tag TYPE --output value "${DEVICE}")" || status=$?
  case "${status}" in
    0)
      [[ "${type}" == ext4 ]] ||
        fail "${DEVICE} holds ${type:-a partition table}, not ext4: refusing to touch it"
      echo "${DEVICE} already holds an ext4 filesystem: keeping its data"
      ;;
    2) mkfs.ext4 -q -L "${LABEL}" "${DEVICE}" ;;
    *) fail "blkid could not read ${DEVICE} (exit ${status})" ;;
  esac
}

# Replaces any fstab line for the mount point by one for this device, atomically.
write_fstab() {
  local options="defaults,nofail,x-systemd.before=docker.service,x-systemd.required-by=docker.service"
  local next="${FSTAB}.reflex-data"
  awk -v mountpoint="${MOUNTPOINT}" '$2 != mountpoint' "${FSTAB}" >"${next}"
  printf '%s %s ext4 %s 0 2\n' "${DEVICE}" "${MOUNTPOINT}" "${options}" >>"${next}"
  chmod 0644 "${next}"
  mv "${next}" "${FSTAB}"
}

step "waiting for ${DEVICE}"
wait_for_device
step "filesystem"
format_if_blank
step "mount at ${MOUNTPOINT} (fstab)"
write_fstab
systemctl daemon-reload
install -d -m 0755 "${MOUNTPOINT}"
mountpoint --quiet "${MOUNTPOINT}" || mount "${MOUNTPOINT}"
resize2fs "${DEVICE}"
step "done"
