export { DescriptorPool, type ProtoFiles } from './descriptor-pool.js';
export { ReflectionErrorCodes } from './errors.js';
export { checkReflectionStreamOptions } from './options.js';
export {
  protoFile, REFLECTION_SERVICES, REFLECTION_V1_ROOT, REFLECTION_V1ALPHA_ROOT, ReflectionRequest, ReflectionResponse, type ReflectionVersion,
} from './reflection-protos.js';
export { reflectionReplies, type ReflectionOptions } from './reflection-replies.js';
export { ReflectionClient, type OpenReflectionStream, type ReflectionStream, type ReflectedFile } from './reflection-client.js';
export { addReflection, reflectionDefinition } from './native-server.js';
export { NativeReflectionChannel, type NativeReflectionOptions } from './native-client.js';
