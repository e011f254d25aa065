#!/usr/bin/env bash
# The whole test suite from a fresh clone: toolchain, dependencies, build, registries, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-registries.sh
bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 TRELLIS_REQUIRE_REGISTRIES=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Two packages at a time on two cores: each tap run is itself parallel, and fault tests need headroom.
# --continue: one failing package must not hide the others' results in the CI log.
# Test files are transpiled by swc without type checking (tsconfig.base.json's "ts-node" settings:
# type-checking each test file in its own process cost ≈ 2× the CPU of the whole run), so every
# package's `typecheck` (tsc --noEmit over src and test) runs here instead, once per package; a
# type error fails the run as before.
status=0
pnpm exec turbo run typecheck test --concurrency=2 --continue --output-logs=full "$@" 2>&1 | tee "$log" || status=$?
# One closing line over every package's tap summary (`# { total: N, pass: P, fail: F … }`).
awk '/:test: # \{ total: / {
  for (i = 1; i <= NF; i++) {
    if ($i == "pass:") { p += $(i + 1) + 0 }
    if ($i == "fail:") { f += $(i + 1) + 0 }
  }
}
# CI shows only the tail of this output: repeat every failed test (and its first diagnostic lines)
# here, so a red run names what failed.
/:test: +not ok / && !/# (TODO|SKIP)/ { shown = 14 }
# A type error ("file(line,col): error TS…" from tsc) counts as one failure and is shown like one.
/:typecheck: .*error TS[0-9]+:/ { f++; shown = 1 }
shown > 0 && kept < 120 { failures[++kept] = $0; shown-- }
END {
  if (kept > 0) { print "--- failed tests ---"; for (i = 1; i <= kept; i++) print failures[i] }
  printf "%d passed, %d failed\n", p, f
}' "$log"
exit "$status"
