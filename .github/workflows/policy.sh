#!/usr/bin/env bash
# The deploy workflow's policy: refuses a commit range in which a commit of the browser editor
# touches a path the editor may never change. Prints one line per violation
# ("refused: commit <sha> by <committer> touches <path> (<glob>: <reason>)") and exits 1;
# exits 0 when the range is clean.
#
# A commit is the editor's when its committer (the platform commits as the app, with the
# signed-in user as author) is IDENTITY: the same name or e-mail, or GitHub's no-reply address
# of that login (the fine-grained token's user, or the GitHub App's bot). The range is
# BASE..HEAD (BASE = the environment's live SHA; `none` checks all of HEAD's history).
#
# The list is .github/workflows/protected-paths.txt beside this script, together with the list
# as it was at BASE: a commit in the range cannot loosen the rules it is checked against. This
# script and its list live under .github/workflows/, which the editor's credential (no
# Workflows permission) cannot write; they never come from a path the editor could change.
#
#   policy.sh IDENTITY BASE HEAD     run inside the repository (full history)
set -o errexit -o nounset -o pipefail

if [[ $# -ne 3 ]]; then
  printf 'usage: %s\n' "policy.sh IDENTITY BASE|none HEAD   (IDENTITY: the editor's git committer or GitHub login)" >&2
  exit 64
fi
identity=$1 base=$2 head=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list_path=.github/workflows/protected-paths.txt

die() { printf 'policy.sh: error: %s\n' "$1" >&2; exit "${2:-1}"; }

[[ -n $identity ]] ||
  die "no editor identity: set the repository variable REFLEX_EDITOR_IDENTITY to the login (or e-mail) the editor commits as" 64

is_sha() { [[ $1 =~ ^([0-9a-f]{40}|[0-9a-f]{64})$ ]]; }
is_sha "$head" || die "HEAD must be a full commit SHA, got '$head'" 64
[[ $base == none ]] || is_sha "$base" || die "BASE must be a full commit SHA or none, got '$base'" 64
git cat-file -e "$head^{commit}" 2>/dev/null || die "commit $head is not in this repository"
[[ $base == none ]] || git cat-file -e "$base^{commit}" 2>/dev/null ||
  die "the live commit $base is not in this repository (fetch the full history)"

# Print the protected list: the one beside this script, then the one at BASE.
protected_list() {
  [[ -r $here/protected-paths.txt ]] || die "$here/protected-paths.txt is missing"
  cat "$here/protected-paths.txt"
  printf '\n'
  if [[ $base != none ]]; then git show "$base:$list_path" 2>/dev/null || true; fi
}

# Print "sha<TAB>committer<TAB>path" for every path each editor commit in the range touches
# (every parent of a merge counts; a rename is its deletion and its addition).
editor_changes() {
  local range=("$head") sha name email noreply login=${identity,,}
  [[ $base == none ]] || range=("$base..$head")
  while IFS=$'\t' read -r sha name email; do
    email=${email,,}
    noreply=$email
    [[ $noreply =~ ^[0-9]+\+(.*)$ ]] && noreply=${BASH_REMATCH[1]}
    if [[ ${name,,} == "$login" || $email == "$login" || $noreply == "$login@users.noreply.github.com" ]]; then
      git diff-tree --no-commit-id -r -m --root --no-renames --name-only "$sha" |
        awk -v sha="$sha" -v who="$name <$email>" 'NF { print sha "\t" who "\t" $0 }'
    fi
  done < <(git log --format='%H%x09%cn%x09%ce' "${range[@]}")
}

# Match paths (stdin of editor_changes) against the globs of the list (file $1): `**` spans
# folders, `*` and `?` stay within one; case-insensitive, as the editor matches them.
violations() {
  awk -F '\t' '
    function to_regex(glob,   out, i, c, n) {
      out = ""; n = length(glob)
      for (i = 1; i <= n; i++) {
        c = substr(glob, i, 1)
        if (c == "*" && substr(glob, i + 1, 1) == "*" &&
            (i == 1 || substr(glob, i - 1, 1) == "/") && (i + 2 > n || substr(glob, i + 2, 1) == "/")) {
          if (i + 2 > n) { out = out ".*" } else { out = out "([^/]+/)*"; i++ }
          i++
        } else if (c == "*") { out = out "[^/]*"; if (substr(glob, i + 1, 1) == "*") i++ }
        else if (c == "?") { out = out "[^/]" }
        else if (index(".+^$(){}|[]\\", c)) { out = out "\\" c }
        else { out = out c }
      }
      return "^" out "$"
    }
    FNR == NR {
      line = $0; sub(/#.*/, "", line); gsub(/^[ \t]+|[ \t]+$/, "", line)
      if (line == "") next
      glob = line; sub(/[ \t].*/, "", glob)
      reason = line; sub(/^[^ \t]+[ \t]*/, "", reason)
      if (!(tolower(glob) in seen)) { seen[tolower(glob)] = 1; rules++; re[rules] = to_regex(tolower(glob)); globs[rules] = glob; why[rules] = reason }
      next
    }
    {
      for (r = 1; r <= rules; r++) if (tolower($3) ~ re[r]) {
        printf "refused: commit %s by %s touches %s (%s: %s)\n", $1, $2, $3, globs[r], why[r]; break
      }
    }
  ' "$1" -
}

list=$(mktemp)
trap 'rm -f "$list"' EXIT
protected_list >"$list"
found=$(editor_changes | violations "$list")
if [[ -n $found ]]; then
  printf '%s\n' "$found"
  printf 'policy.sh: the editor (%s) changed protected paths in %s..%s; nothing is deployed.\n' \
    "$identity" "${base}" "$head" >&2
  exit 1
fi
printf 'policy.sh: no commit of %s in %s..%s touches a protected path\n' "$identity" "$base" "$head" >&2
