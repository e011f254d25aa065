export { GrpcServer, type GrpcServerOptions, type GrpcAddress } from './server/grpc-server.js';
export {
  chainRouters, singleRequest, singleResponse,
  type GrpcMethodHandler, type GrpcMethodKind, type GrpcRouter, type GrpcServerCall,
} from './server/handler.js';
export { GrpcServiceRegistry } from './server/service-registry.js';
export { binaryMetadata, setBinaryMetadata } from './wire/metadata.js';
export { SUPPORTED_ENCODINGS, type Encoding } from './wire/compression.js';
export { encodeGrpcMessage, decodeGrpcMessage } from './wire/status.js';
export { parseGrpcTimeout, formatGrpcTimeout } from './wire/timeout.js';
export { frameMessage, MessageParser, type FramingError } from './wire/framing.js';
export { GrpcClient, type GrpcClientOptions, type GrpcClientStream, type GrpcStreamOptions, type TargetLike } from './client/grpc-client.js';
export type { GrpcCallOptions, GrpcResponse, GrpcStatus } from './client/client-call.js';
export { GrpcChannel } from './client/channel.js';
export { parseGrpcTarget, type GrpcTarget } from './client/target.js';
export { ReflectionClient, grpcReflectionStreams, type ReflectionClientOptions, type ReflectedFile, type ReflectionVersion } from './services/reflection-client.js';
export { HealthStatusSource, healthService, type ServingStatus } from './services/health.js';
export { reflectionService, type ReflectionOptions } from './services/reflection.js';
export { DescriptorPool } from '@trellis/reflection';
export { standardServices, type StandardServicesOptions, type ProtoFiles } from './services/standard-services.js';
export { followServing } from './kernel/follow-serving.js';
export { GrpcErrorCodes } from './errors.js';
export { detectProtocol, classify, HTTP2_PREFACE, TRELLIS_MAGIC, type DetectedProtocol } from './protocol-detect.js';
export { GrpcClientTransport, type GrpcClientTransportOptions } from './kernel/grpc-client-transport.js';
export { GrpcServerTransport, kernelRouter, GROUP_METADATA, ENCODING_METADATA, type GrpcServerTransportOptions } from './kernel/grpc-server-transport.js';
