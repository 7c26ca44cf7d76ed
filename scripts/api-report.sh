#!/usr/bin/env bash
# Public API reports (API Extractor) of the three packages, from their built .d.ts: libs/*/etc/<name>.api.md.
#   bash scripts/api-report.sh          compare; exits 1 when a package's surface differs from its checked-in report
#   bash scripts/api-report.sh --update rewrite the reports (commit them with the change that altered the surface)
# API Extractor 7.60 bundles TypeScript 6.0 and reads the nodenext ESM .d.ts as a consumer would.
set -euo pipefail
cd "$(dirname "$0")/.."
local_flag=()
[ "${1:-}" = "--update" ] && local_flag=(--local)
node_modules/.bin/tsc -b libs/llm/tsconfig.lib.json libs/infra-docker/tsconfig.lib.json
status=0
for pkg in redis-cache llm infra-docker; do
  echo "::: api-extractor @llm-cache/$pkg"
  if ! (cd "libs/$pkg" && ../../node_modules/.bin/api-extractor run "${local_flag[@]}" >"dist/api-extractor.log" 2>&1); then
    cat "libs/$pkg/dist/api-extractor.log"
    if [ -f "libs/$pkg/dist/api-report-temp/$pkg.api.md" ]; then
      diff -u "libs/$pkg/etc/$pkg.api.md" "libs/$pkg/dist/api-report-temp/$pkg.api.md" || true
    fi
    echo "::: @llm-cache/$pkg: public API differs from libs/$pkg/etc/$pkg.api.md (review, then npm run api:update)"
    status=1
  fi
done
exit $status
