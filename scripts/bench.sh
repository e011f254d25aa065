#!/usr/bin/env bash
# `pnpm bench [-- --quick | --only a,b | --profile]`: builds, then runs the side-by-side benchmark
# (apps/bench/README.md lists the options; --profile writes CPU and allocation profiles of both sides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# `pnpm bench -- --quick` hands the "--" on to this script (pnpm 12): it is not an option of the bench.
if [ "${1:-}" = "--" ]; then shift; fi
exec node apps/bench/dist/main.js "$@"
