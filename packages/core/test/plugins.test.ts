import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  createContextKey, definePlugin, InterceptorOrder, KERNEL_VERSION, RpcClient, RpcServer, ServerInterceptorOrder,
  TrellisError, type Plugin,
} from '../src/index.js';
import { RouterOrder } from '../src/spi.js';
import { ECHO, echoHandlers, startEchoServer } from './fixtures/json-service.js';

const both = (name: string, extra: Partial<Plugin['meta']> = {}): Plugin =>
  definePlugin({ meta: { name, kernel: '^0.1.0', ...extra }, setupClient() {}, setupServer() {} });

t.test('the kernel version matches package.json', async (t) => {
  t.equal(KERNEL_VERSION, JSON.parse(readFileSync(`${__dirname}/../package.json`, 'utf8')).version);
});

t.test('the loader refuses bad plugins with coded errors that say what to change', async (t) => {
  const client = () => new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'] });
  const refuse = (plugin: unknown, code: string, message: RegExp) =>
    t.throws(() => client().use(plugin as Plugin), { code, message }, `${code}: ${message}`);
  refuse({ setupClient() {} }, 'ERR_PLUGIN_INVALID', /meta\.name/);
  refuse({ meta: { name: 'x', kernel: 'not a range' }, setupClient() {} }, 'ERR_PLUGIN_INVALID', /not a semver range/);
  refuse(both('@acme/old', { kernel: '^9.0.0' }), 'ERR_PLUGIN_KERNEL_MISMATCH', /needs kernel \^9\.0\.0 but this is @trellis\/core 0\.1\.0/);
  refuse(both('@acme/needy', { needs: ['@trellis/health'] }), 'ERR_PLUGIN_MISSING_DEPENDENCY', /register @trellis\/health with use\(\) before @acme\/needy/);
  refuse({ meta: { name: 'server-only', kernel: '*' }, setupServer() {} }, 'ERR_PLUGIN_INVALID', /cannot be used on a client/);
  t.throws(() => client().use(both('a')).use(both('a')), { code: 'ERR_PLUGIN_DUPLICATE' });
  t.doesNotThrow(() => client().use(both('@trellis/health')).use(both('@acme/needy', { needs: ['@trellis/health'] })));
  const started = client();
  await started.start();
  t.throws(() => started.use(both('late')), { code: 'ERR_PLUGIN_AFTER_START' });
  await started.close();
  const server = new RpcServer();
  t.throws(() => server.use({ meta: { name: 'client-only', kernel: '*' }, setupClient() {} } as Plugin), { code: 'ERR_PLUGIN_INVALID', message: /cannot be used on a server/ });
  t.ok(new TrellisError('ERR_X', 'x') instanceof Error);
});

t.test('configuration mistakes throw ERR_INVALID_OPTION naming the option', async (t) => {
  t.throws(() => new RpcClient({ service: ECHO }), { code: 'ERR_INVALID_OPTION', message: /"registry"/ });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['nope'] }), { code: 'ERR_INVALID_OPTION', message: /host:port/ });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], timeoutMs: -1 }), { code: 'ERR_INVALID_OPTION', message: /timeoutMs/ });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], version: '>>1' }), { code: 'ERR_INVALID_OPTION', message: /semver range/ });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], methods: { Nope: {} } }), { code: 'ERR_INVALID_OPTION', message: /methods\.Nope/ });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], tcp: { connectionsPerEndpoint: 0 } }), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => new RpcServer({ port: 70000 }), { code: 'ERR_INVALID_OPTION', message: /"port"/ });
  const server = new RpcServer();
  t.throws(() => server.addService(ECHO, { echo() {} }), { code: 'ERR_METHOD_NOT_IMPLEMENTED', message: /add a method "mutate"/ });
  await t.rejects(new RpcServer().start(), { code: 'ERR_SERVER_STATE', message: /no services/ });
  t.throws(() => new RpcServer().port, { code: 'ERR_SERVER_STATE' });
});

t.test('interceptors run in the fixed order, and share state through context keys', async (t) => {
  const order: string[] = [];
  const seen = createContextKey<string>('none', { description: 'seen' });
  const { server, address } = await startEchoServer('a', {
    plugins: [definePlugin({
      meta: { name: 'server-trace', kernel: '^0.1.0' },
      setupServer(ctx) {
        ctx.addInterceptor((next) => async (inv) => { order.push('server:user'); return next(inv); }, ServerInterceptorOrder.USER);
        ctx.addInterceptor((next) => async (inv) => { order.push(`server:tracing:${inv.metadata.get('x-trace')}`); return next(inv); }, ServerInterceptorOrder.TRACING);
      },
    })],
  });
  const plugin = definePlugin({
    meta: { name: 'client-trace', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addInterceptor((next) => async (inv) => { order.push('user'); return next(inv); }, InterceptorOrder.USER);
      ctx.addInterceptor((next) => async (inv) => { order.push('retry'); inv.context.set(seen, 'retry'); return next(inv); }, InterceptorOrder.RETRY);
      ctx.addInterceptor((next) => async (inv) => { order.push('tracing'); inv.metadata.set('x-trace', 't1'); return next(inv); }, InterceptorOrder.TRACING);
      ctx.addRouter({ name: 'spy', order: RouterOrder.USER, route: (list, inv) => { order.push(`router:${inv.context.get(seen)}`); return list; } });
      ctx.addEndpointInterceptor((next) => async (inv, endpoint) => { order.push(`endpoint:${endpoint.port}`); return next(inv, endpoint); }, 0);
    },
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', {});
  t.same(order, ['tracing', 'retry', 'user', 'router:retry', `endpoint:${server.port}`, 'server:tracing:t1', 'server:user']);
});

t.test('a server readiness check runs before registration; shutdown hooks before deregistration', async (t) => {
  const events: string[] = [];
  const registry = { name: 'spy', register: async () => { events.push('register'); }, deregister: async () => { events.push('deregister'); }, subscribe: () => ({ dispose() {} }), close: async () => {} };
  const server = new RpcServer({
    host: '127.0.0.1',
    registry,
    plugins: [definePlugin({
      meta: { name: 'lifecycle', kernel: '^0.1.0' },
      setupServer(ctx) {
        ctx.onListening((l) => { events.push(`listening:${l.port > 0}`); });
        ctx.addReadinessCheck(async () => { events.push('ready'); });
        ctx.onShutdown(() => { events.push('shutdown'); });
        ctx.onClose(() => { events.push('closed'); });
      },
    })],
  });
  server.addService(ECHO, echoHandlers('a'));
  await server.start();
  await server.close();
  t.same(events, ['listening:true', 'ready', 'register', 'shutdown', 'deregister', 'closed']);
});

t.test('a failing readiness check keeps the provider out of the registry', async (t) => {
  const registered: string[] = [];
  const registry = { name: 'spy', register: async () => { registered.push('x'); }, deregister: async () => {}, subscribe: () => ({ dispose() {} }), close: async () => {} };
  const server = new RpcServer({
    host: '127.0.0.1', registry,
    plugins: [definePlugin({ meta: { name: 'not-ready', kernel: '*' }, setupServer(ctx) { ctx.addReadinessCheck(() => { throw new Error('cache not warm'); }); } })],
  });
  server.addService(ECHO, echoHandlers('a'));
  await t.rejects(server.start(), /cache not warm/);
  t.same(registered, []);
});
