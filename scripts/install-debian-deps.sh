#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: chromium, for the web console's browser
# tests (Playwright drives /usr/bin/chromium; `playwright install` is never used).
# Idempotent: does nothing when /usr/bin/chromium exists. Needs root (or sudo) otherwise.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-debian-deps: no apt-get here; install chromium yourself (browser tests skip without it)" >&2
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-debian-deps: not root and no sudo; browser tests will skip" >&2
    exit 0
  fi
fi
echo "installing chromium (Debian) for the browser tests"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
