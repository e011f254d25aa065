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
   * own): `{ files, includeDirs }` as given to loadProto, or a DescriptorPool built elsewhere.
   */
  readonly reflection?: { readonly files: readonly string[]; readonly includeDirs?: readonly string[] } | DescriptorPool;
  /** The application services reflection lists (default: every service in the files). */
  readonly services?: () => readonly string[];
}

/**
 * The standard gRPC services operators' tools expect — health checking and server reflection — as
 * one registry to chain behind the application's router (`chainRouters(app, standardServices(…))`).
 */
export function standardServices(options: StandardServicesOptions): GrpcServiceRegistry {
  const registry = new GrpcServiceRegistry();
  if (options.health) registry.add('grpc.health.v1.Health', healthService(options.health));
  if (options.reflection) {
    const pool = options.reflection instanceof DescriptorPool
      ? options.reflection
      : DescriptorPool.fromFiles(options.reflection.files, options.reflection.includeDirs);
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
