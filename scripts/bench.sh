#!/usr/bin/env bash
# `pnpm bench [-- --quick | --only a,b]`: builds, then runs the side-by-side benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec node apps/bench/dist/main.js "$@"
