#!/bin/sh
# Rebuilds the example project's offline Uppy bundle (demo/static/demo/uppy/) from the npm registry
# packages pinned in package-lock.json. The output is byte-identical for the same lock file.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node build.mjs "$@"
