import type { HttpEndpointOptions } from './options.js';
import { resolveHttp } from './options.js';
import { HealthHttpEndpoint } from './http-endpoint.js';

export interface WorkerHealthEndpoint {
  readonly port: number;
  /** `http://host:port/path`, with 127.0.0.1 for a wildcard host. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * For the primary of `RpcServer({ workers })`: the health endpoint of the whole group. It answers
 * 200 SERVING while `server.serving` — registered, at least one worker ready, no crash loop — and 503
 * NOT_SERVING from the start of a graceful stop and after a crash loop. The plugin in each worker
 * still runs its readiness checks; give it no `http` port (the workers would share it, and each probe
 * would see one worker).
 */
export async function serveWorkerHealth(server: { readonly serving: boolean }, http: HttpEndpointOptions): Promise<WorkerHealthEndpoint> {
  const settings = resolveHttp(http)!;
  const endpoint = new HealthHttpEndpoint(settings, () => server.serving);
  const address = await endpoint.listen();
  const host = settings.host === '0.0.0.0' ? '127.0.0.1' : settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return { port: address.port, url: `http://${host}:${address.port}${settings.path}`, close: () => endpoint.close() };
}
