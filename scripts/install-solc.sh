#!/usr/bin/env bash
# Installs the Solidity compiler `zkinfer evm` uses: solcjs 0.8.19 from the npm registry
# (the version of the generated verifier's pragma), into scripts/solc/node_modules. Its
# `--standard-json` entry point is scripts/solc/solc.js (pass it with --solc, or set
# ZKINFER_SOLC). Needs node and npm; the tests use it and download nothing themselves.
set -euo pipefail
cd "$(dirname "$0")/solc"
if [ -f node_modules/solc/package.json ] && grep -q '"version": "0.8.19"' node_modules/solc/package.json; then
  exit 0
fi
npm ci --no-audit --no-fund --silent
node solc.js --version
