#!/usr/bin/env bash
# Installs and starts what the tests need on a Debian 12 machine: redis-server/redis-cli (the tests start their
# own servers on free loopback ports), a Docker engine (for libs/infra-docker) and Debian's chromium (the chat
# page's browser specs drive it with playwright-core; no browser download). Idempotent; needs root for apt.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /usr/bin/chromium ] || need+=(chromium)
# A font for the headless browser's text (and the committed screenshot).
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-system: installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's package may start a system redis on 6379; the tests never use it (they pick free ports).

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "ensure-system: starting dockerd (--bridge=none --iptables=false)"
    mkdir -p /var/log
    nohup dockerd --bridge=none --iptables=false >/var/log/llm-cache-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || echo "ensure-system: WARNING dockerd did not come up; Docker tests will fail" >&2
  else
    echo "ensure-system: WARNING no Docker engine and not root; Docker tests will fail" >&2
  fi
fi
