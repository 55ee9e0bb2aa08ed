#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python:
#   chromium     the web console's browser tests (Playwright drives /usr/bin/chromium)
#   nats-server  NATS JetStream, for the telemetry subscriptions and the live loop's outputs
#   mosquitto    an MQTT broker, likewise
# The tests start their own servers on loopback; the packages' system services are not used.
# Idempotent: installs only what is missing. Needs root (or sudo) to install.
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v nats-server >/dev/null 2>&1 || [[ -x /usr/bin/nats-server ]] || missing+=(nats-server)
[[ -x /usr/sbin/mosquitto ]] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-debian-deps: no apt-get here; install ${missing[*]} yourself (their tests skip without them)" >&2
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-debian-deps: not root and no sudo; tests needing ${missing[*]} will skip" >&2
    exit 0
  fi
fi
echo "installing ${missing[*]} (Debian) for the tests"
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services from starting: the tests run their own on loopback
export DEBIAN_FRONTEND=noninteractive
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq "${missing[@]}"
