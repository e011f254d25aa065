/**
 * Entry point of a provider child process (spawned by startProvider). Configuration arrives as JSON
 * in argv[2]; the parent talks to it over IPC. Registries and plugins are loaded by module name so the
 * testkit depends on no plugin package.
 */
import { RpcServer, type Plugin, type Registry } from '@trellis/core';
import { createEchoHandlers, loadEchoService, type EchoRequest } from './echo-service.js';
import type { ModuleRef, ProviderConfig, ProviderMessage, ProviderStats } from './provider-protocol.js';

function load<T>(ref: ModuleRef): T {
  const resolved = require.resolve(ref.module, { paths: [ref.from ?? process.cwd()] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(resolved)[ref.export] as (options: unknown) => T;
  if (typeof factory !== 'function') throw new Error(`${ref.module} has no export ${ref.export}`);
  return factory(ref.options);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as ProviderConfig;
  const stats: ProviderStats = { calls: 0, byMethod: {}, attempts: {}, cancelled: 0 };
  let behaviour = { delayMs: 0, failRate: 0, failCode: 14, ...config.behaviour };
  // The registry's asynchronous problems (outages, lost leases, expired sessions) reach the parent's
  // `errors` like the server's own (options arrive as JSON: they cannot carry a handler of their own).
  const reportError = (error: { code?: string; message: string }): void =>
    void process.send?.({ type: 'error', message: error.code ? `${error.code}: ${error.message}` : error.message } satisfies ProviderMessage);
  const registry = config.registry
    ? load<Registry>({ ...config.registry, options: { ...(config.registry.options as object), onError: reportError } })
    : undefined;
  const plugins = (config.plugins ?? []).map((ref) => load<Plugin>(ref));
  const server = new RpcServer({
    host: '127.0.0.1', port: config.port ?? 0, registry, plugins, weight: config.weight, tags: config.tags,
    onError: (error) => process.send?.({ type: 'error', message: error.message } satisfies ProviderMessage),
  });
  const handlers = createEchoHandlers({
    servedBy: config.name,
    onCall: (method, request: EchoRequest) => {
      stats.calls++;
      stats.byMethod[method] = (stats.byMethod[method] ?? 0) + 1;
      // Behaviour injected by the parent applies to requests that do not ask for their own.
      if (behaviour.delayMs > 0 && request.delayMs === 0) request.delayMs = behaviour.delayMs;
      if (behaviour.failRate > 0 && request.failCode === 0 && Math.random() < behaviour.failRate) request.failCode = behaviour.failCode;
    },
  });
  const wrap = (name: 'echo' | 'mutate') => async (request: EchoRequest, call: Parameters<typeof handlers.echo>[1]) => {
    stats.attempts[call.attempt] = (stats.attempts[call.attempt] ?? 0) + 1;
    try {
      return await handlers[name](request, call);
    } catch (error) {
      if (call.signal.aborted) stats.cancelled++;
      throw error;
    }
  };
  server.addService(loadEchoService(), { echo: wrap('echo'), mutate: wrap('mutate') }, { version: config.version });
  await server.start();
  process.on('SIGTERM', () => {
    void server.close({ graceMs: config.graceMs ?? 5000 }).then(() => {
      process.send?.({ type: 'closed' } satisfies ProviderMessage);
      process.exit(0);
    });
  });
  process.on('message', (message: ProviderMessage) => {
    if (message.type === 'stats') process.send?.({ type: 'stats', stats } satisfies ProviderMessage);
    if (message.type === 'behaviour') {
      behaviour = { ...behaviour, ...message.behaviour };
      process.send?.({ type: 'behaviour-set' } satisfies ProviderMessage);
    }
  });
  // The parent is gone: do not linger as an orphan holding a port.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port: server.port } satisfies ProviderMessage);
}

main().catch((error: Error) => {
  process.send?.({ type: 'failed', message: error.stack ?? error.message } satisfies ProviderMessage);
  process.exit(1);
});
