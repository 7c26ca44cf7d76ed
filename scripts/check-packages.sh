#!/usr/bin/env bash
# Package checks for CI (run from .ci/run). Fails on a regression of any of:
#  1. the chatbot's production dependency tree (what its Docker image installs) contains neither dockerode nor the
#     `node` npm package (repo tooling only);
#  2. publint and @arethetypeswrong/cli on each packed tarball report no error;
#  3. each package's public API equals its checked-in report (scripts/api-report.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
PACKAGES=(@llm-cache/redis-cache @llm-cache/llm @llm-cache/infra-docker)

echo "::: chatbot production dependencies"
bash scripts/check-prod-deps.sh || fail=1

node_modules/.bin/tsc -b libs/llm/tsconfig.lib.json libs/infra-docker/tsconfig.lib.json || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=()
for p in "${PACKAGES[@]}"; do args+=(--workspace "$p"); done
npm pack "${args[@]}" --pack-destination "$tmp" --silent >/dev/null || exit 1
for tarball in "$tmp"/*.tgz; do
  echo "::: publint $(basename "$tarball")"
  node_modules/.bin/publint run "$tarball" --level warning --strict || fail=1
  # The packages are ESM-only ("type": "module", exports without a require condition), like Nest 12 itself:
  # the esm-only profile checks node16-from-ESM and bundler resolution and does not ask for a CommonJS build.
  echo "::: attw $(basename "$tarball")"
  node_modules/.bin/attw "$tarball" --profile esm-only --format table-flipped --no-emoji --no-color || fail=1
done

bash scripts/api-report.sh || fail=1
[ "$fail" -eq 0 ] && echo "::: package checks passed"
exit $fail
