import { protoFile } from '@trellis/reflection';

/**
 * The proto of the health service, as protobufjs JSON (field numbers and names as in
 * grpc/health/v1/health.proto), so the package needs no .proto files at run time; tagged with its
 * upstream file name, so reflection can describe it too.
 */
const health: object = {
  nested: {
    HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
    HealthCheckResponse: {
      fields: { status: { type: 'ServingStatus', id: 1 } },
      nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
    },
    Health: {
      methods: {
        Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
        Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true },
      },
    },
  },
};

export const HEALTH_ROOT = protoFile('grpc.health.v1', 'grpc/health/v1/health.proto', health);
// Reflection's own protos live with the reflection service in @trellis/reflection.
export { REFLECTION_V1_ROOT, REFLECTION_V1ALPHA_ROOT } from '@trellis/reflection';
