#!/usr/bin/env bash
# Installs the validator's npm packages (package.json, package-lock.json
# beside this script: versions pinned) into DEST/node_modules with `npm ci`,
# once: again only when the lock file changes.
#   npm_install.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$1
mkdir -p "$dest"
if cmp -s "$here/package-lock.json" "$dest/node_modules/.shoal-package-lock.json" &&
   cmp -s "$here/package.json" "$dest/package.json"; then
  echo "npm_install: $dest/node_modules is up to date"
  exit 0
fi
command -v npm >/dev/null || { echo "npm_install: npm not found (scripts/install_deps.sh installs it)" >&2; exit 1; }
cp "$here/package.json" "$here/package-lock.json" "$dest/"
npm ci --prefix "$dest" --no-audit --no-fund --loglevel=error
cp "$here/package-lock.json" "$dest/node_modules/.shoal-package-lock.json"
echo "npm_install: installed into $dest/node_modules"
