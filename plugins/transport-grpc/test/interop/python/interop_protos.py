"""Loads the grpc.testing messages that protoc generated into the directory named by argv (see
python-peer.ts). The generated package is `grpc.testing`, which collides with the installed `grpc`
package: its directory is appended to `grpc.__path__` so both resolve."""
import os
import sys

import grpc


def load(generated_dir):
    grpc.__path__.append(os.path.join(generated_dir, 'grpc'))
    from grpc.testing import empty_pb2, messages_pb2  # noqa: E402 (after the path change)
    return empty_pb2, messages_pb2


STATUS_BY_CODE = {status.value[0]: status for status in grpc.StatusCode}


def out(obj):
    import json
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()
