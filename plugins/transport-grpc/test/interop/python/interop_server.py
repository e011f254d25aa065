"""grpc.testing.TestService on Python grpcio (gRPC C-core), with generic handlers: a thin driver for
the Trellis interop tests. Usage: interop_server.py GENERATED_DIR. Prints {"port": N} when ready and
serves until its standard input closes."""
import sys
import time
from concurrent import futures

import grpc

import interop_protos

empty_pb2, messages_pb2 = interop_protos.load(sys.argv[1])
ECHO_INITIAL = 'x-grpc-test-echo-initial'
ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin'


def echo_metadata(context):
    metadata = dict(context.invocation_metadata())
    if ECHO_INITIAL in metadata:
        context.send_initial_metadata([(ECHO_INITIAL, metadata[ECHO_INITIAL])])
    if ECHO_TRAILING in metadata:
        context.set_trailing_metadata([(ECHO_TRAILING, metadata[ECHO_TRAILING])])


def echo_status(request, context):
    if request.HasField('response_status') and request.response_status.code != 0:
        context.set_code(interop_protos.STATUS_BY_CODE[request.response_status.code])
        context.set_details(request.response_status.message)
        return True
    return False


def payload(size):
    return messages_pb2.Payload(body=b'\0' * size)


def empty_call(request, context):
    return empty_pb2.Empty()


def unary_call(request, context):
    if request.response_compressed.value:
        context.set_compression(grpc.Compression.Gzip)
    echo_metadata(context)
    # expect_compressed is not checked: grpcio decompresses before the handler and shows it neither
    # the message flag nor grpc-encoding (the official Python interop server does not check it either).
    if echo_status(request, context):
        return messages_pb2.SimpleResponse()
    return messages_pb2.SimpleResponse(payload=payload(request.response_size))


def respond(params, context):
    for p in params:
        if p.interval_us:
            time.sleep(p.interval_us / 1e6)
        if not p.compressed.value:
            context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=payload(p.size))


def streaming_output_call(request, context):
    if any(p.compressed.value for p in request.response_parameters):
        context.set_compression(grpc.Compression.Gzip)
    echo_metadata(context)
    yield from respond(request.response_parameters, context)
    echo_status(request, context)


def streaming_input_call(request_iterator, context):
    total = 0
    for request in request_iterator:
        total += len(request.payload.body)
    return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)


def full_duplex_call(request_iterator, context):
    echo_metadata(context)
    for request in request_iterator:
        if echo_status(request, context):
            return
        yield from respond(request.response_parameters, context)


def half_duplex_call(request_iterator, context):
    echo_metadata(context)
    requests = list(request_iterator)
    for request in requests:
        if echo_status(request, context):
            return
        yield from respond(request.response_parameters, context)


def main():
    m = messages_pb2
    handlers = {
        'EmptyCall': grpc.unary_unary_rpc_method_handler(empty_call, empty_pb2.Empty.FromString, empty_pb2.Empty.SerializeToString),
        'UnaryCall': grpc.unary_unary_rpc_method_handler(unary_call, m.SimpleRequest.FromString, m.SimpleResponse.SerializeToString),
        'StreamingOutputCall': grpc.unary_stream_rpc_method_handler(streaming_output_call, m.StreamingOutputCallRequest.FromString, m.StreamingOutputCallResponse.SerializeToString),
        'StreamingInputCall': grpc.stream_unary_rpc_method_handler(streaming_input_call, m.StreamingInputCallRequest.FromString, m.StreamingInputCallResponse.SerializeToString),
        'FullDuplexCall': grpc.stream_stream_rpc_method_handler(full_duplex_call, m.StreamingOutputCallRequest.FromString, m.StreamingOutputCallResponse.SerializeToString),
        'HalfDuplexCall': grpc.stream_stream_rpc_method_handler(half_duplex_call, m.StreamingOutputCallRequest.FromString, m.StreamingOutputCallResponse.SerializeToString),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler('grpc.testing.TestService', handlers),))
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()
    interop_protos.out({'port': port})
    sys.stdin.read()
    server.stop(0).wait()


if __name__ == '__main__':
    main()
