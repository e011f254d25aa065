#!/usr/bin/env bash
# Installs the toolchain and dependencies, then builds every package. Idempotent and quiet when warm.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 PNPM_CONFIG_MINIMUM_RELEASE_AGE=0 PNPM_CONFIG_UPDATE_NOTIFIER=false
PNPM_VERSION=12.4.2
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "[trellis] installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" --no-fund --no-audit >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm exec turbo run build --output-logs=errors-only
