#!/usr/bin/env bash
# The demo: a small cluster with a graceful stop mid-traffic. `npm start -- --registry etcd` runs it on etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do [ "$arg" = etcd ] && bash scripts/ensure-registries.sh; done
bash scripts/bootstrap.sh
# A client outside Trellis (Python's grpcio) calls the demo over gRPC: install it if missing.
bash apps/demo/scripts/ensure-python-grpc.sh
exec node apps/demo/dist/main.js "$@"
