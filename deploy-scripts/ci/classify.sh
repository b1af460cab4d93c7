#!/usr/bin/env bash
# Decides what a deploy must gate on, from the paths that differ between the live commit and
# the one to deploy (docs/DEPLOY.md, "What a deploy gates on"). Prints `level=<level>` (for
# $GITHUB_OUTPUT) and, on stderr, the first path that decided it.
#
#   content   only site content changed (pages, styles, markdown, images, data): the site's
#             tests and the build
#   code      site code changed as well (ts/js under webapp/site/, the site's tests): plus the
#             type-check and the unit tier
#   all       anything else (the platform, scripts, deploy-scripts, infrastructure, workflows,
#             dependencies, test configuration), or no live commit to compare with: every tier
#
#   classify.sh BASE|none HEAD        run inside the repository (full history)
#   classify.sh --paths               classify the paths on stdin, one per line
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init classify.sh "classify.sh BASE|none HEAD   or   classify.sh --paths <paths"
[[ $# -eq 2 || ($# -eq 1 && $1 == --paths) ]] || usage

# Print the level one path needs.
path_level() {
  local path=${1,,}
  [[ $path == webapp/site/* ]] || { echo all; return; }
  case $path in
    # Manifests and build or test configuration change how everything is built and tested.
    */package.json | */package-lock.json | */npm-shrinkwrap.json | */.npmrc | */tsconfig*.json | \
      */jest.config.* | */eslint.config.* | */.babelrc* | */babel.config.*) echo all ;;
    *.test.* | *.spec.* | */__tests__/* | */test/* | */tests/*) echo code ;;
    *.html | *.htm | *.css | *.md | *.markdown | *.txt | *.json | *.xml | *.svg | *.png | *.jpg | \
      *.jpeg | *.gif | *.webp | *.avif | *.ico | *.woff | *.woff2 | *.ttf | *.otf | *.pdf | *.mp4 | *.webm)
      echo content ;;
    *) echo code ;;
  esac
}

# Read paths on stdin; print the widest level (content < code < all) and log the deciding path.
classify_paths() {
  local level=content path needs decided=""
  while IFS= read -r path || [[ -n $path ]]; do
    [[ -n $path ]] || continue
    needs=$(path_level "$path")
    if [[ $needs == all || ($needs == code && $level == content) ]]; then level=$needs decided=$path; fi
    [[ $level != all ]] || break
  done
  [[ -z $decided ]] || log "$level: $decided"
  printf 'level=%s\n' "$level"
}

if [[ $1 == --paths ]]; then classify_paths; exit 0; fi
base=$1 head=$2
is_sha "$head" || die "HEAD must be a full commit SHA, got '$head'" 64
if [[ $base == none ]]; then
  log "all: no live commit to compare with"
  printf 'level=all\n'
  exit 0
fi
is_sha "$base" || die "BASE must be a full commit SHA or none, got '$base'" 64
changed=$(git diff --no-renames --name-only "$base" "$head") ||
  die "cannot compare $base with $head (is the full history fetched?)"
classify_paths <<<"$changed"
