import { GrpcServiceRegistry } from '../server/service-registry.js';
import { DescriptorPool } from './descriptor-pool.js';
import { healthService, type HealthStatusSource } from './health.js';
import { reflectionService } from './reflection.js';
import { HEALTH_ROOT, REFLECTION_V1_ROOT, REFLECTION_V1ALPHA_ROOT } from './standard-protos.js';

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

/** .proto files and where they resolve: what a `ProtoPackage` of @trellis/codec-protobuf exposes. */
export interface ProtoFiles {
  readonly files: readonly string[];
  readonly includeDirs?: readonly string[];
}

/**
 * The standard gRPC services operators' tools expect — health checking and server reflection — as
 * one registry to chain behind the application's router (`chainRouters(app, standardServices(…))`).
 */
export function standardServices(options: StandardServicesOptions): GrpcServiceRegistry {
  const registry = new GrpcServiceRegistry();
  if (options.health) registry.add('grpc.health.v1.Health', healthService(options.health));
  if (options.reflection) {
    const pool = options.reflection instanceof DescriptorPool ? options.reflection : poolOf(options.reflection);
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

/** One pool over every package's files; include directories searched in the order given, without repeats. */
function poolOf(reflection: ProtoFiles | readonly ProtoFiles[]): DescriptorPool {
  const list: readonly ProtoFiles[] = Array.isArray(reflection) ? reflection : [reflection as ProtoFiles];
  const files = [...new Set(list.flatMap((p) => p.files))];
  const includeDirs = [...new Set(list.flatMap((p) => p.includeDirs ?? []))];
  return DescriptorPool.fromFiles(files, includeDirs.length > 0 ? includeDirs : undefined);
}
