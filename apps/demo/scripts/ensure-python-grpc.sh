#!/usr/bin/env bash
# The demo's outside caller: Python's grpcio on gRPC C-core (Debian's /usr/bin/python3), and protoc
# for the message classes of protos/greeter.proto. Installed once from Debian's packages when missing
# (~5 MB; the apt index update is most of the time). Never fails `npm start`: without them the demo
# makes its outside call with @grpc/grpc-js instead and says so in its summary.
set -uo pipefail
need=()
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || need+=(python3-protobuf)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v apt-get >/dev/null 2>&1 || { [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; }; then
  echo "[trellis] cannot install ${need[*]} (no apt-get or no root): the demo's outside call uses @grpc/grpc-js"
  exit 0
fi
echo "[trellis] installing ${need[*]} from Debian's packages (the demo's Python gRPC caller)"
$SUDO apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
  echo "[trellis] installing ${need[*]} failed: the demo's outside call uses @grpc/grpc-js"
exit 0
