import type { Disposable, ServingView } from '@trellis/core/spi';
import type { HealthStatusSource } from '../services/health.js';

/**
 * Drives `grpc.health.v1.Health` from the kernel's serving state (`ListenOptions.serving`): NOT_SERVING
 * until the server is ready, SERVING while it serves, NOT_SERVING for every service from the start of
 * a graceful stop or while a plugin holds the server out (the health plugin's `setServing(false)`).
 * The seam between this transport and the health plugin is the kernel's state: neither imports the other.
 */
export function followServing(source: HealthStatusSource, serving: ServingView): Disposable {
  const apply = (now: boolean): void => {
    if (!now) return source.shutdown();
    source.set('', 'SERVING');
    for (const service of source.services) source.set(service, 'SERVING');
  };
  apply(serving.serving);
  return serving.onChange(apply);
}
