#!/bin/sh
# Runs the pinned Deno (tools/deno/package.json), installing it with npm on first use.
set -eu
dir="$(cd "$(dirname "$0")" && pwd)/deno"
if [ ! -x "$dir/node_modules/.bin/deno" ]; then
  npm install --prefix "$dir" --no-package-lock --no-audit --no-fund --loglevel=error >&2
fi
exec "$dir/node_modules/.bin/deno" "$@"
