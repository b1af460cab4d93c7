#!/usr/bin/env bash
# Builds stand-ins for the monitoring stack's images (compose.yaml), which cannot be pulled
# where the host tier runs, and pushes them to REGISTRY under their own names: Prometheus,
# node-exporter and Alertmanager are Debian's builds of the same programs (`prometheus`,
# `prometheus-node-exporter`, `prometheus-alertmanager`) at the official images' paths, users
# and working folders; Grafana, which Debian does not package, is a process that only stays up
# (nothing in the tier reads a dashboard). Prints one pushed reference a line.
#
#   make-monitoring-standins.sh REGISTRY WORKDIR
# Uses podman with the caller's CONTAINERS_* environment.
set -o errexit -o nounset -o pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: make-monitoring-standins.sh REGISTRY WORKDIR" >&2
  exit 64
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
registry=$1 workdir=$2

# Print the image compose.yaml names for service $1.
compose_image() {
  sed -n "/^  $1:\$/,/^  [a-z-]*:\$/s/^    image: //p" ../../compose.yaml
}

# Build image $1 from a rootfs holding Debian package $2's program $3 as $4 (with its libraries
# and the package's data under /usr/share/prometheus: templates, web assets), entrypoint $4,
# running as nobody in folder $5 (owned by nobody); push it as REGISTRY/$1.
standin() {
  local image=$1 package=$2 program=$3 target=$4 home=$5 rootfs="$workdir/rootfs" lib file
  rm -rf "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs$home"
  cp -L "$program" "$rootfs$target"
  while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done < <(ldd "$program" 2>/dev/null | grep -o '/[^ ]*' || true)
  while read -r file; do
    [[ -f $file || -L $file ]] || continue
    mkdir -p "$rootfs$(dirname "$file")"
    cp -a "$file" "$rootfs$file"
  done < <(dpkg -L "$package" | grep '^/usr/share/prometheus/' || true)
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  chown 65534:65534 "$rootfs$home"
  chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -cf "$workdir/rootfs.tar" .
  podman import --change "ENTRYPOINT [\"$target\"]" --change 'USER 65534' --change "WORKDIR $home" \
    "$workdir/rootfs.tar" "$registry/$image" >/dev/null
  podman push --quiet --format v2s2 "$registry/$image" >/dev/null
  rm -rf "$rootfs" "$workdir/rootfs.tar"
  printf '%s\n' "$registry/$image"
}

mkdir -p "$workdir"
standin "$(compose_image prometheus)" prometheus /usr/bin/prometheus /bin/prometheus /prometheus
standin "$(compose_image node-exporter)" prometheus-node-exporter /usr/bin/prometheus-node-exporter /bin/node_exporter /home
standin "$(compose_image alertmanager)" prometheus-alertmanager /usr/bin/prometheus-alertmanager /bin/alertmanager /alertmanager
# Grafana: busybox's sleep as the entrypoint, stays up like the server would.
printf '#!/bin/busybox sh\nexec /bin/busybox sleep 2147483647\n' >"$workdir/grafana"
chmod +x "$workdir/grafana"
cp /bin/busybox "$workdir/busybox"
standin_grafana() {
  local rootfs="$workdir/rootfs" image
  image=$(compose_image grafana)
  rm -rf "$rootfs" && mkdir -p "$rootfs/bin"
  cp "$workdir/busybox" "$rootfs/bin/busybox"
  cp "$workdir/grafana" "$rootfs/bin/grafana"
  tar -C "$rootfs" -cf "$workdir/rootfs.tar" .
  podman import --change 'ENTRYPOINT ["/bin/grafana"]' "$workdir/rootfs.tar" "$registry/$image" >/dev/null
  podman push --quiet --format v2s2 "$registry/$image" >/dev/null
  rm -rf "$rootfs" "$workdir/rootfs.tar" "$workdir/grafana" "$workdir/busybox"
  printf '%s\n' "$registry/$image"
}
standin_grafana
