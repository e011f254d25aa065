import { serveConsole, type ConsoleServer } from './http-server.js';
import { resolveAdminOptions, type AdminOptions } from './options.js';
import { ADMIN_VERSION } from './version.js';

/** One provider as the registry holds it (core's InstanceInfo; only what the page shows is read). */
export interface RegistryProvider {
  readonly host: string;
  readonly port: number;
  readonly version?: string;
  readonly weight?: number;
  readonly protocol?: string;
  readonly zone?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface RegistryService {
  readonly group: string;
  readonly name: string;
  readonly providers: readonly RegistryProvider[];
  readonly documents?: readonly string[];
  readonly malformed?: readonly string[];
}

export interface RegistryConsoleOptions extends Pick<AdminOptions, 'port' | 'host' | 'token' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'> {
  /** Shown in the page: `etcd://127.0.0.1:2379`. */
  readonly registry: string;
  /** Reads every service and its providers (the CLI's catalog); called when the page polls. */
  readonly services: () => Promise<readonly RegistryService[]>;
}

/**
 * Tag a provider publishes (`RpcServer({ tags: { [ADMIN_URL_TAG]: 'http://…' } })`) so the
 * registry-wide console links to its own console. Only http(s) URLs are linked.
 */
export const ADMIN_URL_TAG = 'trellis.admin';

/**
 * The registry-wide console (`trellis console --registry etcd://…`): the same page, showing every
 * service and provider in a registry with no Trellis process attached, read-only. Each provider that
 * publishes its console's URL in the `trellis.admin` tag links to it.
 */
export async function serveRegistryConsole(options: RegistryConsoleOptions): Promise<ConsoleServer> {
  const { port, host, token, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections } = options;
  const resolved = resolveAdminOptions({ port, host, token, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections });
  if (typeof options.services !== 'function') throw new TypeError('services must be a function returning the registry\'s services');
  const state = async (role: string) => {
    const services = await options.services();
    return {
      mode: 'registry',
      registry: String(options.registry),
      role,
      canWrite: false,
      consoleWritable: false,
      versions: { admin: ADMIN_VERSION, node: process.version },
      services: services.map((s) => ({
        ...s,
        providers: s.providers.map((p) => {
          const url = p.tags?.[ADMIN_URL_TAG];
          return { ...p, console: typeof url === 'string' && /^https?:\/\/[^\s"'<>]+$/i.test(url) ? url : undefined };
        }),
      })),
    };
  };
  return serveConsole({
    ...resolved,
    writeToken: undefined,
    routes: [{ method: 'GET', path: '/api/state', handler: (request) => state(request.role) }],
  });
}
