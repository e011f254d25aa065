#!/usr/bin/env bash
# Makes sure Debian's etcd and ZooKeeper (and the gRPC interop peers) are installed (tests and the etcd demo start their own
# instances on free loopback ports through @trellis/testkit; nothing here starts a server).
set -euo pipefail
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
# The TLS tests make their certificates with openssl.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The gRPC interop tests (plugins/transport-grpc): the official interop protos, and Python's gRPC on
# the C-core as a peer no one here wrote (Debian's /usr/bin/python3), with protoc for its messages.
[ -f /usr/share/grpc-proto/grpc/testing/test.proto ] || need+=(grpc-proto)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || need+=(python3-protobuf)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
  echo "[trellis] installing ${need[*]} from Debian's packages"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null
  # The packages' own services must not auto-start on a systemd host: tests use their own ports.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
    $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
fi
