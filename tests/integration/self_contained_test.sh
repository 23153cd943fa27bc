#!/usr/bin/env bash
# A checkout with nothing beside it: copies what a clone of this tree holds
# (git's tracked files and the untracked ones it does not ignore, as in the
# working tree) into a fresh temporary directory with nothing next to it,
# and runs the env conformance test against that copy. Then checks that no
# file of the tree names the project machines' data directory beside the
# checkout ($BESIDE below), which a user's clone does not have.
#
#   self_contained_test.sh SOURCE_DIR CONFORMANCE_TEST_BINARY
set -euo pipefail
# The directory the project's own machines keep beside a checkout.
BESIDE=shared
src=$1
conformance=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-clone.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
clone=$tmp/clone
mkdir "$clone"

cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' f; do
      [ -e "$f" ] && printf '%s\0' "$f"
    done | xargs -0 cp --parents -t "$clone"
else
  cp -r . "$clone"
fi

out=$tmp/conformance.out
if ! env -u SHOAL_REFERENCE_DIR SHOAL_SOURCE_DIR="$clone" "$conformance" >"$out" 2>&1; then
  cat "$out"
  echo "self_contained_test: the conformance test fails in a clone with nothing beside it" >&2
  exit 1
fi
grep '^\[conformance\]' "$out"
recordings=$(grep -c '^\[conformance\]' "$out" || true)
if [ "$recordings" -lt 6 ]; then
  echo "self_contained_test: $recordings recordings replayed, want 6" >&2
  exit 1
fi

cd "$clone"
if names=$(grep -rlI -e "\.\./$BESIDE" -e "$BESIDE/reference" \
             -e "$BESIDE/notes" . ); then
  echo "self_contained_test: these files name the directory beside the" \
       "checkout, which a clone lacks:" >&2
  echo "$names" >&2
  exit 1
fi
echo "self_contained_test: $recordings recordings replayed from a clone with nothing beside it"
