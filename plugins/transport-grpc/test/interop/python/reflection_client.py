"""A grpcurl-style session over server reflection, on Python grpcio and the protobuf runtime's own
DescriptorPool (which links descriptors strictly: every dependency must be present, every type name
must resolve). Usage: reflection_client.py GENERATED_DIR HOST:PORT VERSION(v1|v1alpha).
Prints one JSON object: the services listed, each described (methods with their message fields),
a UnaryCall and a Health/Check made with message classes built from reflection only, and the error
response for an unknown symbol."""
import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(__file__))
import interop_protos  # noqa: E402

GENERATED, TARGET, VERSION = sys.argv[1], sys.argv[2], sys.argv[3]
grpc.__path__.append(os.path.join(GENERATED, 'grpc'))
if VERSION == 'v1':
    from grpc.reflection.v1 import reflection_pb2  # noqa: E402
else:
    from grpc.reflection.v1alpha import reflection_pb2  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

channel = grpc.insecure_channel(TARGET)
info = channel.stream_stream(
    '/grpc.reflection.%s.ServerReflection/ServerReflectionInfo' % VERSION,
    reflection_pb2.ServerReflectionRequest.SerializeToString,
    reflection_pb2.ServerReflectionResponse.FromString,
)


def ask(**request):
    return next(info(iter([reflection_pb2.ServerReflectionRequest(host='test', **request)])))


pool = descriptor_pool.DescriptorPool()
added = set()


def add_files(response):
    assert response.WhichOneof('message_response') == 'file_descriptor_response', response
    pending = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in response.file_descriptor_response.file_descriptor_proto]
    # Dependencies first, as a descriptor pool requires.
    while pending:
        progressed = False
        for proto in list(pending):
            if proto.name in added:
                pending.remove(proto)
                progressed = True
            elif all(dep in added for dep in proto.dependency):
                pool.Add(proto)
                added.add(proto.name)
                pending.remove(proto)
                progressed = True
        assert progressed, 'unresolvable dependencies: %s' % [(p.name, list(p.dependency)) for p in pending]


def message_class(full_name):
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name)) if hasattr(message_factory, 'GetMessageClass') \
        else message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName(full_name))


result = {}
listed = ask(list_services='')
result['valid_host'] = listed.valid_host
result['services'] = [s.name for s in listed.list_services_response.service]
result['described'] = {}
for name in result['services']:
    add_files(ask(file_containing_symbol=name))
    service = pool.FindServiceByName(name)
    result['described'][name] = {
        m.name: {
            'input': m.input_type.full_name,
            'output': m.output_type.full_name,
            'client_streaming': m.client_streaming,
            'input_fields': [f.name for f in m.input_type.fields],
        }
        for m in service.methods
    }

by_file = ask(file_by_filename='grpc/testing/messages.proto')
result['file_by_filename'] = [descriptor_pb2.FileDescriptorProto.FromString(b).name for b in by_file.file_descriptor_response.file_descriptor_proto]

SimpleRequest = message_class('grpc.testing.SimpleRequest')
SimpleResponse = message_class('grpc.testing.SimpleResponse')
unary = channel.unary_unary('/grpc.testing.TestService/UnaryCall', SimpleRequest.SerializeToString, SimpleResponse.FromString)
result['unary_payload_size'] = len(unary(SimpleRequest(response_size=10)).payload.body)

HealthCheckRequest = message_class('grpc.health.v1.HealthCheckRequest')
HealthCheckResponse = message_class('grpc.health.v1.HealthCheckResponse')
check = channel.unary_unary('/grpc.health.v1.Health/Check', HealthCheckRequest.SerializeToString, HealthCheckResponse.FromString)
status = check(HealthCheckRequest(service=''))
result['health'] = HealthCheckResponse.DESCRIPTOR.enum_types_by_name['ServingStatus'].values_by_number[status.status].name

missing = ask(file_containing_symbol='no.such.Symbol')
result['missing'] = {'kind': missing.WhichOneof('message_response'), 'code': missing.error_response.error_code}
channel.close()
interop_protos.out(result)
