import * as protobuf from 'protobufjs';

/**
 * The protos of gRPC server reflection as protobufjs JSON (field numbers and names as in
 * grpc/reflection/v1{,alpha}/reflection.proto), so no .proto file is needed at run time. v1 and
 * v1alpha are identical field for field; each root is tagged with its upstream file name, so
 * reflection describes itself too.
 */
const reflectionMessages = (): object => ({
  nested: {
    ServerReflection: {
      methods: {
        ServerReflectionInfo: { requestType: 'ServerReflectionRequest', requestStream: true, responseType: 'ServerReflectionResponse', responseStream: true },
      },
    },
    ServerReflectionRequest: {
      oneofs: { message_request: { oneof: ['file_by_filename', 'file_containing_symbol', 'file_containing_extension', 'all_extension_numbers_of_type', 'list_services'] } },
      fields: {
        host: { type: 'string', id: 1 },
        file_by_filename: { type: 'string', id: 3 },
        file_containing_symbol: { type: 'string', id: 4 },
        file_containing_extension: { type: 'ExtensionRequest', id: 5 },
        all_extension_numbers_of_type: { type: 'string', id: 6 },
        list_services: { type: 'string', id: 7 },
      },
    },
    ExtensionRequest: { fields: { containing_type: { type: 'string', id: 1 }, extension_number: { type: 'int32', id: 2 } } },
    ServerReflectionResponse: {
      oneofs: { message_response: { oneof: ['file_descriptor_response', 'all_extension_numbers_response', 'list_services_response', 'error_response'] } },
      fields: {
        valid_host: { type: 'string', id: 1 },
        original_request: { type: 'ServerReflectionRequest', id: 2 },
        file_descriptor_response: { type: 'FileDescriptorResponse', id: 4 },
        all_extension_numbers_response: { type: 'ExtensionNumberResponse', id: 5 },
        list_services_response: { type: 'ListServiceResponse', id: 6 },
        error_response: { type: 'ErrorResponse', id: 7 },
      },
    },
    FileDescriptorResponse: { fields: { file_descriptor_proto: { rule: 'repeated', type: 'bytes', id: 1 } } },
    ExtensionNumberResponse: { fields: { base_type_name: { type: 'string', id: 1 }, extension_number: { rule: 'repeated', type: 'int32', id: 2 } } },
    ListServiceResponse: { fields: { service: { rule: 'repeated', type: 'ServiceResponse', id: 1 } } },
    ServiceResponse: { fields: { name: { type: 'string', id: 1 } } },
    ErrorResponse: { fields: { error_code: { type: 'int32', id: 1 }, error_message: { type: 'string', id: 2 } } },
  },
});

/**
 * A proto3 file given as protobufjs JSON: builds the `a.b.c` nesting around a package's definitions
 * and tags every object with its file name, so a DescriptorPool can describe it.
 */
export function protoFile(pkg: string, filename: string, definitions: object): protobuf.Root {
  let json = definitions;
  for (const part of pkg.split('.').reverse()) json = { nested: { [part]: json } };
  const root = protobuf.Root.fromJSON(json as protobuf.INamespace);
  root.resolveAll();
  const tag = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      nested.filename = filename;
      (nested as protobuf.ReflectionObject & { _edition?: string })._edition = 'proto3';
      if (nested instanceof protobuf.Namespace) tag(nested);
    }
  };
  tag(root.lookup(pkg) as protobuf.Namespace);
  return root;
}

export type ReflectionVersion = 'v1' | 'v1alpha';

/** The reflection service's full name per version. */
export const REFLECTION_SERVICES: Readonly<Record<ReflectionVersion, string>> = {
  v1: 'grpc.reflection.v1.ServerReflection',
  v1alpha: 'grpc.reflection.v1alpha.ServerReflection',
};

export const REFLECTION_V1_ROOT = protoFile('grpc.reflection.v1', 'grpc/reflection/v1/reflection.proto', reflectionMessages());
export const REFLECTION_V1ALPHA_ROOT = protoFile('grpc.reflection.v1alpha', 'grpc/reflection/v1alpha/reflection.proto', reflectionMessages());

// One codec serves both versions.
export const ReflectionRequest = REFLECTION_V1_ROOT.lookupType('grpc.reflection.v1.ServerReflectionRequest');
export const ReflectionResponse = REFLECTION_V1_ROOT.lookupType('grpc.reflection.v1.ServerReflectionResponse');
