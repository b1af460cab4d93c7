#!/usr/bin/env bash
# Which change-request preview an event of preview.yml is about, and what to do with it. Prints
# KEY=value lines for $GITHUB_OUTPUT: `slug=<name>` and `action=up|down|none`. A change request
# is a branch reflex/<user>/<name>; its preview is named <name> (as on one machine: the editor's
# host name `editor` is never one). A push starts or updates it; a closed pull request (merged
# or not) or a deleted branch removes it; anything else does nothing. Here, beside the workflow,
# because the editor's credential cannot change it.
#
#   preview-name.sh   reads EVENT (push | pull_request | delete), REF (the branch: pushed, the
#                     pull request's head, or deleted), REF_TYPE (delete: branch | tag),
#                     SAME_REPOSITORY (pull_request: true when its head is in this repository)
set -o errexit -o nounset -o pipefail

if [[ $# -ne 0 ]]; then
  printf 'usage: %s\n' "preview-name.sh   (no arguments; settings from the environment, see the header)" >&2
  exit 64
fi
: "${EVENT:?EVENT is required}" "${REF:=}" "${REF_TYPE:=branch}" "${SAME_REPOSITORY:=false}"

# Print the outputs: slug $1, action $2; say why on stderr ($3).
decide() { printf 'slug=%s\naction=%s\n' "$1" "$2"; printf 'preview-name.sh: %s\n' "$3" >&2; }

slug=""
if [[ $REF =~ ^reflex/[a-z0-9][a-z0-9._-]{0,39}/([a-z0-9][a-z0-9-]{0,39})$ && ${BASH_REMATCH[1]} != editor ]]; then
  slug=${BASH_REMATCH[1]}
fi
case $EVENT in
  push | pull_request | delete) ;;
  *) printf 'preview-name.sh: error: EVENT must be push, pull_request or delete, got %s\n' "'$EVENT'" >&2; exit 64 ;;
esac
if [[ -z $slug ]]; then
  decide "" none "'$REF' is not a change-request branch (reflex/<user>/<name>): no preview"
elif [[ $EVENT == push ]]; then
  decide "$slug" up "$REF was pushed: preview $slug goes up"
elif [[ $EVENT == pull_request && $SAME_REPOSITORY != true ]]; then
  decide "" none "the pull request's head is in another repository: no preview of it ever ran here"
elif [[ $EVENT == delete && $REF_TYPE != branch ]]; then
  decide "" none "a $REF_TYPE was deleted, not a branch"
else
  decide "$slug" down "$REF is closed or deleted: preview $slug goes down"
fi
