#!/bin/sh
# Installs playwright-core at the version tools/browser/package.json pins, into
# .artifacts/browser/node_modules (out of the way of deno fmt, lint and check), unless it is
# there already. The browser tests and examples/browser find it there.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/.artifacts/browser"
mkdir -p "$dir"
if ! cmp -s "$root/tools/browser/package.json" "$dir/package.json" ||
  [ ! -d "$dir/node_modules/playwright-core" ]; then
  cp "$root/tools/browser/package.json" "$dir/package.json"
  npm install --prefix "$dir" --no-package-lock --no-audit --no-fund --loglevel=error
fi
