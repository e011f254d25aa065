export { loadProto, loadProtoAsync, type ProtoPackage } from './proto-package.js';
export { DEFAULT_LOAD_OPTIONS, type ProtoLoadOptions } from './load-options.js';
export type { ProtoMethodDefinition, ProtoServiceDefinition } from './service-definition.js';
export { ProtoCodecError } from './codec-error.js';
export { ProtoErrorCodes } from './errors.js';
export { localName } from './local-name.js';
export { generateTypes, type GenerateTypesOptions, type GenerateTypesResult } from './gen/generate-types.js';
// Types the files written by trellis-proto-gen import, so generated code only needs this package
// (with pnpm, @grpc/proto-loader itself is not resolvable from an application's sources).
export type { Long, AnyExtension } from '@grpc/proto-loader';
