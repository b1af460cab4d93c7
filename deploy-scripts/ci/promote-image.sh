#!/usr/bin/env bash
# Promotion: puts the exact image another environment tested (SOURCE, repository@digest) into
# this environment's repository under tag SHA, by digest, never rebuilt. skopeo copies the
# manifest and layers as they are (--preserve-digests fails rather than change a byte); the
# result is checked to have SOURCE's digest. An image already under that tag must be the
# same digest, else the promotion is refused. Prints `image=<repository>@<digest>`.
#
#   promote-image.sh SOURCE REPOSITORY_URL SHA      registry logins: docker's config (ecr-login)
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init promote-image.sh "promote-image.sh SOURCE(registry/repo@sha256:...) REPOSITORY_URL SHA"
[[ $# -eq 3 ]] || usage

source_image=$1 repository_url=$2 sha=$3
digest=$(image_digest "$source_image")
if [[ -z $digest ]] || ! is_image_ref "$source_image"; then
  die "SOURCE must be an image by digest (registry/repository@sha256:...), got '$source_image'" 64
fi
[[ $repository_url =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+$ ]] ||
  die "not a repository URL (registry/name): '$repository_url'" 64
is_sha "$sha" || die "not a full commit SHA: '$sha'" 64
require_commands skopeo

target="$repository_url:$sha"
# Print the digest of image $1, or nothing if the registry does not have it.
digest_of() { skopeo inspect --raw "docker://$1" >/dev/null 2>&1 && skopeo inspect --format '{{.Digest}}' "docker://$1"; }

existing=$(digest_of "$target" || true)
if [[ -n $existing && $existing != "$digest" ]]; then
  die "$target already holds $existing, not the tested $digest; refusing to promote a different image"
fi
if [[ -z $existing ]]; then
  log "copying $source_image to $target"
  skopeo copy --preserve-digests --retry-times 3 "docker://$source_image" "docker://$target" >&2
  existing=$(digest_of "$target" || true)
  [[ $existing == "$digest" ]] || die "$target has digest '${existing:-none}' after the copy, not $digest"
fi
log "$target is $digest, the image tested before"
printf 'image=%s@%s\n' "$repository_url" "$digest"
