#!/usr/bin/env bash
# The chatbot's production dependency tree — what its Docker image installs with
# `npm ci --omit=dev --workspace @llm-cache/chatbot` — must contain neither dockerode (the chatbot does not use
# @llm-cache/infra-docker at run time) nor the `node` npm package (Node 24 for this repo's scripts, tooling only).
# Exits 1, naming each offender, when one comes back. Run by scripts/check-packages.sh and test/packages.
# With `-`, checks the `npm ls --parseable` listing read from stdin instead (how its test shows it catches one).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "-" ]; then
  prod=$(cat)
else
  prod=$(npm ls --omit=dev --workspace @llm-cache/chatbot --all --parseable 2>/dev/null)
fi
if ! grep -q "/node_modules/@nestjs/core\$" <<<"$prod"; then
  echo "npm ls --omit=dev --workspace @llm-cache/chatbot did not list the chatbot's dependencies:"
  echo "$prod"
  exit 1
fi
fail=0
for banned in dockerode node @llm-cache/infra-docker; do
  if grep -E "/node_modules/${banned}\$" <<<"$prod"; then
    echo "'${banned}' is in the chatbot's production tree (npm ls --omit=dev --workspace @llm-cache/chatbot)"
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "chatbot production tree: $(wc -l <<<"$prod") packages, no dockerode, no node"
exit $fail
