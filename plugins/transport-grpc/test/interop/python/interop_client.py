"""The interop test cases on Python grpcio (gRPC C-core): a thin driver for the Trellis interop
tests. Usage: interop_client.py GENERATED_DIR HOST:PORT. Runs every case in one process and prints
one JSON line per case ({"case", "ok", "error"}). grpcio does not expose the compressed flag of
received messages, so server_compressed_unary checks the calls and payloads."""
import queue
import sys
import traceback

import grpc

import interop_protos

empty_pb2, messages_pb2 = interop_protos.load(sys.argv[1])
TARGET = sys.argv[2]
CASES = [
    'empty_unary', 'large_unary', 'client_compressed_unary', 'server_compressed_unary', 'client_streaming',
    'server_streaming', 'ping_pong', 'empty_stream', 'custom_metadata', 'status_code_and_message',
    'special_status_message', 'unimplemented_method', 'unimplemented_service', 'timeout_on_sleeping_server',
    'cancel_after_begin', 'cancel_after_first_response',
]
REQUEST_SIZES = [27182, 8, 1828, 45904]
RESPONSE_SIZES = [31415, 9, 2653, 58979]
SPECIAL = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n'
ECHO_INITIAL = 'x-grpc-test-echo-initial'
ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin'
m = messages_pb2
T = '/grpc.testing.TestService/'

channel = grpc.insecure_channel(TARGET)
empty_call = channel.unary_unary(T + 'EmptyCall', empty_pb2.Empty.SerializeToString, empty_pb2.Empty.FromString)
unary_call = channel.unary_unary(T + 'UnaryCall', m.SimpleRequest.SerializeToString, m.SimpleResponse.FromString)
output_call = channel.unary_stream(T + 'StreamingOutputCall', m.StreamingOutputCallRequest.SerializeToString, m.StreamingOutputCallResponse.FromString)
input_call = channel.stream_unary(T + 'StreamingInputCall', m.StreamingInputCallRequest.SerializeToString, m.StreamingInputCallResponse.FromString)
duplex_call = channel.stream_stream(T + 'FullDuplexCall', m.StreamingOutputCallRequest.SerializeToString, m.StreamingOutputCallResponse.FromString)
unimplemented_call = channel.unary_unary(T + 'UnimplementedCall', empty_pb2.Empty.SerializeToString, empty_pb2.Empty.FromString)
unimplemented_service_rpc = channel.unary_unary('/grpc.testing.UnimplementedService/UnimplementedCall', empty_pb2.Empty.SerializeToString, empty_pb2.Empty.FromString)


class Pipe:
    """A request iterator fed by the test (ping-pong), ended by close()."""

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, item):
        self._queue.put(item)

    def close(self):
        self._queue.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is None:
            raise StopIteration()
        return item


def zeros(size):
    return m.Payload(body=b'\0' * size)


def large(**fields):
    return m.SimpleRequest(response_size=314159, payload=zeros(271828), **fields)


def assert_large(response):
    assert len(response.payload.body) == 314159, len(response.payload.body)


def expect_status(fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as error:
        assert error.code() == code, '%s != %s (%s)' % (error.code(), code, error.details())
        if details is not None:
            assert error.details() == details, repr(error.details())
        return
    raise AssertionError('expected %s, the call succeeded' % code)


def empty_unary():
    assert empty_call(empty_pb2.Empty()) is not None


def large_unary():
    assert_large(unary_call(large()))


def client_compressed_unary():
    expect_status(lambda: unary_call(large(expect_compressed=m.BoolValue(value=True))), grpc.StatusCode.INVALID_ARGUMENT)
    assert_large(unary_call(large(expect_compressed=m.BoolValue(value=True)), compression=grpc.Compression.Gzip))
    assert_large(unary_call(large(expect_compressed=m.BoolValue(value=False))))


def server_compressed_unary():
    assert_large(unary_call(large(response_compressed=m.BoolValue(value=True))))
    assert_large(unary_call(large(response_compressed=m.BoolValue(value=False))))


def client_streaming():
    response = input_call(iter([m.StreamingInputCallRequest(payload=zeros(size)) for size in REQUEST_SIZES]))
    assert response.aggregated_payload_size == 74922, response.aggregated_payload_size


def server_streaming():
    request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=s) for s in RESPONSE_SIZES])
    sizes = [len(r.payload.body) for r in output_call(request)]
    assert sizes == RESPONSE_SIZES, sizes


def ping_pong():
    pipe = Pipe()
    responses = duplex_call(pipe)
    for request_size, response_size in zip(REQUEST_SIZES, RESPONSE_SIZES):
        pipe.add(m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=response_size)], payload=zeros(request_size)))
        assert len(next(responses).payload.body) == response_size
    pipe.close()
    assert list(responses) == []
    assert responses.code() == grpc.StatusCode.OK


def empty_stream():
    responses = duplex_call(iter([]))
    assert list(responses) == []
    assert responses.code() == grpc.StatusCode.OK


def custom_metadata():
    metadata = ((ECHO_INITIAL, 'test_initial_metadata_value'), (ECHO_TRAILING, b'\xab\xab\xab'))
    response, call = unary_call.with_call(large(), metadata=metadata)
    assert_large(response)
    assert (ECHO_INITIAL, 'test_initial_metadata_value') in call.initial_metadata(), call.initial_metadata()
    assert (ECHO_TRAILING, b'\xab\xab\xab') in call.trailing_metadata(), call.trailing_metadata()
    request = m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=314159)], payload=zeros(271828))
    responses = duplex_call(iter([request]), metadata=metadata)
    assert [len(r.payload.body) for r in responses] == [314159]
    assert (ECHO_INITIAL, 'test_initial_metadata_value') in responses.initial_metadata()
    assert (ECHO_TRAILING, b'\xab\xab\xab') in responses.trailing_metadata()


def status_code_and_message():
    status = m.EchoStatus(code=2, message='test status message')
    expect_status(lambda: unary_call(m.SimpleRequest(response_status=status)), grpc.StatusCode.UNKNOWN, 'test status message')
    expect_status(lambda: list(duplex_call(iter([m.StreamingOutputCallRequest(response_status=status)]))), grpc.StatusCode.UNKNOWN, 'test status message')


def special_status_message():
    status = m.EchoStatus(code=2, message=SPECIAL)
    expect_status(lambda: unary_call(m.SimpleRequest(response_status=status)), grpc.StatusCode.UNKNOWN, SPECIAL)


def unimplemented_method():
    expect_status(lambda: unimplemented_call(empty_pb2.Empty()), grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service():
    expect_status(lambda: unimplemented_service_rpc(empty_pb2.Empty()), grpc.StatusCode.UNIMPLEMENTED)


def timeout_on_sleeping_server():
    pipe = Pipe()
    try:
        responses = duplex_call(pipe, timeout=0.001)
        pipe.add(m.StreamingOutputCallRequest(payload=zeros(27182)))
        expect_status(lambda: list(responses), grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        pipe.close()


def cancel_after_begin():
    pipe = Pipe()
    future = input_call.future(pipe)
    future.cancel()
    pipe.close()
    assert future.cancelled()
    assert future.code() == grpc.StatusCode.CANCELLED, future.code()


def cancel_after_first_response():
    pipe = Pipe()
    responses = duplex_call(pipe)
    pipe.add(m.StreamingOutputCallRequest(response_parameters=[m.ResponseParameters(size=31415)], payload=zeros(27182)))
    assert len(next(responses).payload.body) == 31415
    responses.cancel()
    pipe.close()
    expect_status(lambda: next(responses), grpc.StatusCode.CANCELLED)


def main():
    grpc.channel_ready_future(channel).result(timeout=10)
    for name in CASES:
        try:
            globals()[name]()
            interop_protos.out({'case': name, 'ok': True})
        except Exception:  # noqa: BLE001 (every failure is reported, the next case still runs)
            interop_protos.out({'case': name, 'ok': False, 'error': traceback.format_exc()})
    channel.close()


if __name__ == '__main__':
    main()
