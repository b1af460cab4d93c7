#!/usr/bin/env bash
# Runs a deploy's test gate at a level from classify.sh, with the README's commands. `all` is
# what ci.yml runs as parallel jobs; here it runs them one after another (local use, benchmark).
#
#   gate.sh content|code|all        run at the repository's root, after npm ci
set -o errexit -o nounset -o pipefail

if [[ $# -ne 1 || ! $1 =~ ^(content|code|all)$ ]]; then
  printf 'usage: %s\n' "gate.sh content|code|all" >&2
  exit 64
fi
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
level=$1

step() { printf '\n==> gate (%s): %s\n' "$level" "$*"; "$@"; }

case $level in
  content)
    step npm test -- unit -- --testPathPatterns "/webapp/site/"
    step npm run build
    ;;
  code)
    step npm run typecheck
    step npm test -- unit
    step npm run build
    ;;
  all)
    step npm run lint
    step npm run typecheck
    step npm test
    ;;
esac
