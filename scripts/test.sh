#!/usr/bin/env bash
# The whole test suite from a fresh clone: toolchain, dependencies, build, registries, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-registries.sh
bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 TRELLIS_REQUIRE_REGISTRIES=1
# Two packages at a time on two cores: each tap run is itself parallel, and fault tests need headroom.
# --continue: one failing package must not hide the others' results in the CI log.
pnpm exec turbo run test --concurrency=2 --continue --output-logs=full "$@"
