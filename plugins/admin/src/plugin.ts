import { definePlugin, KERNEL_VERSION, type Plugin } from '@trellis/core';
import type { ClientPluginContext, PrimaryPluginContext, ServerPluginContext, ServiceQuery } from '@trellis/core/spi';
import { AdminApiError, AdminErrorCodes } from './errors.js';
import { serveConsole, type ApiRoute, type ConsoleServer, type Role } from './http-server.js';
import { resolveAdminOptions, type AdminOptions } from './options.js';
import { ProcessOverview } from './process-overview.js';
import { ADMIN_URL_TAG } from './registry-console.js';
import { RuleDocuments } from './rule-documents.js';
import { ClientHistory, type MethodTotals } from './series.js';
import { Targets, type Target } from './targets.js';
import { serverView, targetView } from './views.js';
import { workersView } from './workers-view.js';
import { ADMIN_VERSION } from './version.js';

export interface AdminPlugin extends Plugin {
  /** `http://127.0.0.1:port/` while the console listens (from the first setup to the last close). */
  readonly url: string | undefined;
  readonly port: number | undefined;
  /** Stops the console now (it also stops when the last client or server it is set up on closes). */
  close(): Promise<void>;
}

interface ClientState {
  readonly history: ClientHistory;
  readonly documents: RuleDocuments;
}

/**
 * The operator's console for a Trellis process: a JSON API and a web page, served on `host:port`
 * (127.0.0.1 by default) by the first client or server this plugin is set up on, shared by every
 * other one (one plugin object on a client and a server: one port), stopped when the last closes.
 * Reads each target's `inspect()` only when asked; once a second it samples the metrics plugin's
 * totals for the charts. It adds nothing to the call path.
 */
export function admin(options: AdminOptions = {}): AdminPlugin {
  const resolved = resolveAdminOptions(options);
  const targets = new Targets();
  const clients = new Map<string, ClientState>();
  /** Per server, the documents of each service it provides, made when the console first asks. */
  const serverDocuments = new Map<string, Map<string, RuleDocuments>>();
  let overview: ProcessOverview | undefined;
  let server: ConsoleServer | undefined;
  let starting: Promise<ConsoleServer> | undefined;
  let sampler: NodeJS.Timeout | undefined;

  /** `parameter` names where the id was looked for, so a request that left it out is told which one. */
  const target = (id: unknown, parameter: string): Target => {
    if (id === undefined || id === null || id === '') {
      throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, `${parameter} is missing: name a client (c1…) or server (s1…); GET /api/state lists them`);
    }
    const found = targets.find(id);
    if (found === undefined) throw new AdminApiError(404, AdminErrorCodes.NOT_FOUND, `no client or server ${JSON.stringify(id)} here; GET /api/state lists them`);
    return found;
  };
  const clientTarget = (id: unknown): Extract<Target, { side: 'client' }> & { state: ClientState } => {
    const found = target(id, 'the client parameter (?client=c1)');
    if (found.side !== 'client') throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, `${found.id} is a server; series belong to a client`);
    return { ...found, state: clients.get(found.id)! };
  };
  /**
   * The documents of a target's service: a client's own service, or one a server provides (`service`
   * as `group/name`; it may be left out when the server provides one service only).
   */
  const documentsOf = (id: unknown, service: unknown): RuleDocuments => {
    const found = target(id, 'target');
    if (found.side === 'client') {
      const documents = clients.get(found.id)!.documents;
      if (service !== undefined && service !== null && service !== documents.serviceId) {
        throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, `${found.id} is a client of ${documents.serviceId}; its documents are that service's`);
      }
      return documents;
    }
    const provided = ((found.context.inspect().kernel as { services?: readonly ServiceQuery[] }).services ?? []).map((s) => ({ group: s.group, name: s.name }));
    const ids = provided.map((s) => `${s.group}/${s.name}`);
    const wanted = service ?? (ids.length === 1 ? ids[0] : undefined);
    const at = typeof wanted === 'string' ? ids.indexOf(wanted) : -1;
    if (at < 0) throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, `service must name one of the services ${found.id} provides, as group/name: ${ids.join(', ')}`);
    let byService = serverDocuments.get(found.id);
    if (byService === undefined) serverDocuments.set(found.id, (byService = new Map()));
    let documents = byService.get(ids[at]!);
    if (documents === undefined) byService.set(ids[at]!, (documents = new RuleDocuments(found.context, provided[at]!)));
    return documents;
  };
  /** The document named in a request: by default a client's `routes`, or the first document a server follows. */
  const documentName = (documents: RuleDocuments, name: unknown): string =>
    RuleDocuments.checkName(name ?? documents.followedLive().find((d) => d === 'routes') ?? documents.followedLive()[0] ?? 'routes');
  const field = (body: unknown, name: string): unknown => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, 'the body must be a JSON object');
    return (body as Record<string, unknown>)[name];
  };

  /**
   * What the presented token may do (`canWrite`), and whether this console takes writes at all
   * (`consoleWritable`: it has a write token), so the page can tell a read token from a read-only console.
   */
  const access = (role: Role): { role: Role; canWrite: boolean; consoleWritable: boolean } =>
    ({ role, canWrite: role === 'write', consoleWritable: resolved.writeToken !== undefined });

  const overviewOf = (): Record<string, unknown> => ({
    process: overview?.read(),
    versions: { kernel: KERNEL_VERSION, admin: ADMIN_VERSION, node: process.version },
    targets: targets.all().map((t) => ({ id: t.id, side: t.side, plugins: t.context.inspect().plugins })),
  });

  const routes: ApiRoute[] = [
    { method: 'GET', path: '/api/overview', handler: () => overviewOf() },
    { method: 'GET', path: '/api/whoami', handler: (request) => access(request.role) },
    {
      method: 'GET', path: '/api/clients', handler: () => targets.clientsOnly().map(view),
    },
    {
      method: 'GET', path: '/api/servers',
      handler: () => targets.all().filter((t): t is Extract<Target, { side: 'server' }> => t.side === 'server').map((t) => serverView(t, t.context.inspect())),
    },
    {
      // A worker group's primary: every worker (slot, pid, state, uptime, restarts, in flight) and
      // the provided services' figures summed across them, with each worker's own detail.
      method: 'GET', path: '/api/workers',
      handler: async (request) => {
        const found = target(
          request.query.get('server') ?? targets.all().find((t) => t.side === 'server' && 'inspectWorkers' in t.context)?.id,
          'the server parameter (?server=s1; none here is the primary of a worker group)',
        );
        if (found.side !== 'server' || !('inspectWorkers' in found.context)) {
          throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, `${found.id} is not the primary of a worker group (RpcServer({ workers }))`);
        }
        return { server: found.id, ...workersView(await found.context.inspectWorkers()) };
      },
    },
    {
      method: 'GET', path: '/api/state',
      handler: (request) => ({ ...overviewOf(), ...access(request.role), targets: targets.all().map(view) }),
    },
    {
      method: 'GET', path: '/api/series',
      handler: (request) => {
        const found = clientTarget(request.query.get('client'));
        return { client: found.id, intervalSeconds: 1, methods: found.state.history.read() };
      },
    },
    {
      method: 'GET', path: '/api/rules',
      handler: (request) => {
        const documents = documentsOf(request.query.get('target'), request.query.get('service'));
        return documents.read(documentName(documents, request.query.get('document')));
      },
    },
    {
      method: 'POST', path: '/api/rules/validate',
      handler: (request) => {
        const documents = documentsOf(field(request.body, 'target'), field(request.body, 'service'));
        return documents.validate(documentName(documents, field(request.body, 'document')), field(request.body, 'text'));
      },
    },
    {
      method: 'PUT', path: '/api/rules', write: true,
      handler: (request) => {
        const documents = documentsOf(field(request.body, 'target'), field(request.body, 'service'));
        return documents.write(documentName(documents, field(request.body, 'document')), field(request.body, 'text'), field(request.body, 'expected'));
      },
    },
  ];

  /** A target's view, with each endpoint's observed traffic (attempts over the last seconds) for clients. */
  const view = (t: Target): Record<string, unknown> => {
    const shown = targetView(t);
    const observed = clients.get(t.id)?.history.observedTraffic();
    if (observed === undefined) return shown;
    const endpoints = (shown.endpoints as Record<string, unknown>[]).map((e) => ({ ...e, observed: observed[e.id as string] }));
    return { ...shown, endpoints };
  };

  const sample = (): void => {
    const t = Math.round(Date.now() / 1000);
    for (const client of targets.clientsOnly()) {
      const metrics = client.context.inspect().inspectors['@trellis/metrics'] as { methods?: Record<string, MethodTotals>; attempts?: Record<string, number> } | undefined;
      const history = clients.get(client.id)?.history;
      if (metrics?.methods !== undefined) history?.sample(t, metrics.methods);
      if (metrics?.attempts !== undefined) history?.sampleAttempts(t, metrics.attempts);
    }
  };

  const start = async (): Promise<void> => {
    if (server !== undefined) return;
    overview ??= new ProcessOverview();
    starting ??= serveConsole({ ...resolved, routes });
    try {
      server = await starting;
    } finally {
      starting = undefined;
    }
    sampler = setInterval(sample, 1000);
    sampler.unref();
  };
  const stop = async (): Promise<void> => {
    if (sampler !== undefined) clearInterval(sampler);
    sampler = undefined;
    overview?.close();
    overview = undefined;
    const running = server;
    server = undefined;
    await running?.close();
  };
  const release = async (t: Target): Promise<void> => {
    targets.remove(t);
    clients.get(t.id)?.documents.close();
    clients.delete(t.id);
    for (const documents of serverDocuments.get(t.id)?.values() ?? []) documents.close();
    serverDocuments.delete(t.id);
    if (targets.size === 0) await stop();
  };

  /**
   * A client or server just added as a target: the console starts (or is already up) and the target
   * is released when it closes; if the console cannot start, the target is released at once.
   */
  const attach = async (t: Target, ctx: ClientPluginContext | ServerPluginContext | PrimaryPluginContext): Promise<void> => {
    try {
      await start();
    } catch (error) {
      await release(t);
      throw error;
    }
    ctx.onClose(() => release(t));
  };

  /** A server, or a worker group's primary: one console for it, linked from its instance documents. */
  const setupOnServer = async (ctx: ServerPluginContext | PrimaryPluginContext): Promise<void> => {
    await attach(targets.addServer(ctx), ctx);
    // Before registration (setup runs before start() registers): the registry-wide console links here.
    const published = resolved.advertiseUrl ?? server?.url;
    if (published) ctx.setInstanceTag(ADMIN_URL_TAG, published);
  };

  return definePlugin({
    meta: { name: '@trellis/admin', kernel: '^0.1.0' },
    get url() {
      return server?.url;
    },
    get port() {
      return server?.port;
    },
    close: stop,
    async setupClient(ctx: ClientPluginContext) {
      const t = targets.addClient(ctx);
      clients.set(t.id, { history: new ClientHistory(resolved.historySeconds), documents: new RuleDocuments(ctx, ctx.service) });
      await attach(t, ctx);
    },
    async setupServer(ctx) {
      // A worker of RpcServer({ workers }): the primary serves the group's one console and reads
      // this worker over the cluster channel; a console here would share its port with the others.
      if (ctx.inWorkerGroup) return;
      await setupOnServer(ctx);
    },
    async setupPrimary(ctx) {
      await setupOnServer(ctx);
    },
  });
}
