#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the console's browser tests (@trellis/admin drives it
# with playwright-core; no browser is downloaded from anywhere else).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "[trellis] installing chromium from Debian's packages"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
