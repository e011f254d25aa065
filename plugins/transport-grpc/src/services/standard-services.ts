import { DescriptorPool, REFLECTION_V1_ROOT, REFLECTION_V1ALPHA_ROOT, type ProtoFiles } from '@trellis/reflection';
import { Type, parseOptions } from '@trellis/core/toolkit';
import { GrpcServiceRegistry } from '../server/service-registry.js';
import { healthService, type HealthStatusSource } from './health.js';
import { reflectionService } from './reflection.js';
import { HEALTH_ROOT } from './standard-protos.js';

export interface StandardServicesOptions {
  /** Serve `grpc.health.v1.Health` from this source. */
  readonly health?: HealthStatusSource;
  /**
   * Serve server reflection (v1 and v1alpha) for these .proto files (plus the standard services'
   * own): the `ProtoPackage`(s) the services were loaded from (`loadProto` of
   * @trellis/codec-protobuf: they carry their `files` and `includeDirs`), `{ files, includeDirs }`,
   * or a DescriptorPool built elsewhere.
   */
  readonly reflection?: ProtoFiles | readonly ProtoFiles[] | DescriptorPool;
  /** The application services reflection lists (default: every service in the files). */
  readonly services?: () => readonly string[];
}

export type { ProtoFiles } from '@trellis/reflection';

// A misspelt key (`helth`) would serve nothing in silence: refused with a "did you mean" hint.
const StandardServicesOptionsSchema = Type.Object({
  health: Type.Optional(Type.Object({}, { description: 'a HealthStatusSource' })),
  reflection: Type.Optional(Type.Union([Type.Object({}), Type.Array(Type.Unknown())], { description: 'ProtoPackage(s), { files, includeDirs } or a DescriptorPool' })),
  services: Type.Optional(Type.Function([], Type.Array(Type.String()), { description: 'a function returning the service names to list' })),
}, { additionalProperties: false });

/**
 * The standard gRPC services operators' tools expect — health checking and server reflection — as
 * one registry to chain behind the application's router (`chainRouters(app, standardServices(…))`).
 */
export function standardServices(options: StandardServicesOptions): GrpcServiceRegistry {
  parseOptions(StandardServicesOptionsSchema, options, 'standardServices');
  const registry = new GrpcServiceRegistry();
  if (options.health) registry.add('grpc.health.v1.Health', healthService(options.health));
  if (options.reflection) {
    const pool = DescriptorPool.of(options.reflection);
    pool.addRoot(REFLECTION_V1_ROOT).addRoot(REFLECTION_V1ALPHA_ROOT);
    if (options.health) pool.addRoot(HEALTH_ROOT);
    const applicationServices = options.services ?? (() => pool.services.filter((name) => !registry.services.includes(name) && !name.startsWith('grpc.reflection.')));
    const listed = () => [...applicationServices(), ...registry.services];
    const methods = reflectionService(pool, { services: listed });
    registry.add('grpc.reflection.v1.ServerReflection', methods);
    registry.add('grpc.reflection.v1alpha.ServerReflection', methods);
  }
  return registry;
}
