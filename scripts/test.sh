#!/usr/bin/env bash
# The README's test command: system packages, Node 24 (from the npm registry), dependencies, then every Jest suite.
# Extra arguments go to Jest (e.g. `bash scripts/test.sh --selectProjects unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
exec npm test -- "$@"
