import t from 'tap';
import { MemoryRegistry, RpcClient, RpcServer, StaticRegistry, TcpClientTransport, TcpServerTransport, type Endpoint } from '../src/index.js';
import { instanceDocument, parseInstance } from '../src/spi.js';
import { TransportSelector } from '../src/client/transport-selector.js';
import { ECHO, echoHandlers, waitFor } from './fixtures/json-service.js';

/**
 * Issue #19 phase B in the kernel alone (the gRPC side is tested in plugins/transport-grpc): several
 * listeners per server, protocols in instance documents, and a transport per endpoint. A second
 * native TCP transport stands in for "another protocol" here, named `alt`.
 */

t.test('two listeners serve the same services; close() drains and closes both', async (t) => {
  const registry = new MemoryRegistry();
  const stats = { calls: 0, aborted: [] as string[] };
  const server = new RpcServer({
    host: '127.0.0.1',
    registry,
    listeners: [{ protocol: 'alt', transport: new TcpServerTransport() }, { protocol: 'trellis' }],
  }).addService(ECHO, echoHandlers('two', stats));
  await server.start();
  const [native, alt] = server.listeners;
  t.match(server.listeners, [{ protocol: 'trellis', host: '127.0.0.1' }, { protocol: 'alt', host: '127.0.0.1' }], 'the native one first');
  t.equal(server.port, native!.port);

  const viaNative = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${native!.port}`] });
  const viaAlt = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${alt!.port}`] });
  t.teardown(async () => { await viaNative.close(); await viaAlt.close(); });
  t.match(await viaNative.invoke('Echo', { message: 'a' }), { servedBy: 'two' });
  t.match(await viaAlt.invoke('Echo', { message: 'b' }), { servedBy: 'two' });
  t.equal(server.connectionCount, 2, 'connections of both listeners are counted');

  // Calls in flight on both ports finish during the graceful stop.
  const inflight = [viaNative, viaAlt].map((c) => c.invoke('Mutate', { message: 'slow', delayMs: 200 }));
  await waitFor(() => stats.calls >= 4);
  await server.close({ graceMs: 30_000 }); // a guard: the calls take 200 ms, a stalled machine longer
  const results = await Promise.allSettled(inflight);
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled'], 'both listeners drained before closing');
  t.equal(server.connectionCount, 0);
});

t.test('listeners options are checked with coded errors', async (t) => {
  const cases: [string, object][] = [
    ['empty', { listeners: [] }],
    ['duplicate protocol', { listeners: [{ protocol: 'trellis' }, { protocol: 'trellis', port: 1 }] }],
    ['non-native without a transport', { listeners: [{ protocol: 'grpc' }] }],
    ['bad protocol name', { listeners: [{ protocol: 'Bad Name' }] }],
    ['bad port', { listeners: [{ protocol: 'trellis', port: 70000 }] }],
    ['unknown key', { listeners: [{ protocol: 'trellis', prot: 1 }] }],
    ['transport without listen', { listeners: [{ protocol: 'alt', transport: {} }] }],
  ];
  for (const [what, options] of cases) {
    t.throws(() => new RpcServer({ host: '127.0.0.1', ...options }), { code: 'ERR_INVALID_OPTION' }, what);
  }
  t.throws(() => new RpcServer({ port: 1, listeners: [{ protocol: 'trellis' }] }), { code: 'ERR_INVALID_OPTION' }, 'port and listeners');
  t.throws(() => new RpcServer({ transport: new TcpServerTransport(), listeners: [{ protocol: 'trellis' }] }), { code: 'ERR_INVALID_OPTION' }, 'transport and listeners');
});

t.test('the serving state: false until ready, held by a plugin, false from the start of close()', async (t) => {
  const seen: string[] = [];
  let hold: ((serving: boolean) => void) | undefined;
  const server = new RpcServer({
    host: '127.0.0.1',
    plugins: [{
      meta: { name: 'probe', kernel: '*' },
      setupServer(ctx) {
        hold = ctx.setServing;
        ctx.addReadinessCheck(() => void seen.push(`readiness:${ctx.servingStatus.serving}`));
        ctx.onShutdown(() => void seen.push(`shutdown:${ctx.servingStatus.serving}`));
      },
    }],
  }).addService(ECHO, echoHandlers('x'));
  server.servingStatus.onChange((serving) => seen.push(`change:${serving}`));
  t.equal(server.servingStatus.serving, false);
  await server.start();
  t.equal(server.servingStatus.serving, true);
  hold!(false);
  t.equal(server.servingStatus.serving, false, 'held out');
  hold!(true);
  await server.close({ graceMs: 0 });
  t.same(seen, ['readiness:false', 'change:true', 'change:false', 'change:true', 'change:false', 'shutdown:false']);
});

t.test('instance documents: protocols written and parsed defensively', async (t) => {
  const info = {
    host: '10.0.0.1', port: 7001, weight: 100, version: '1.0.0', tags: {}, protocol: 'trellis', startedAt: 1,
    protocols: { trellis: { port: 7001, tls: false }, grpc: { port: 7002, tls: true } },
  };
  t.same(parseInstance(instanceDocument(info))?.protocols, info.protocols, 'round trip');
  t.notOk('protocols' in parseInstance(instanceDocument({ ...info, protocols: undefined }))!, 'absent stays absent (old documents)');
  const bad = parseInstance(JSON.stringify({
    host: 'h', port: 1,
    protocols: { grpc: { port: 'x' }, 'Bad Name': { port: 2 }, h2: { port: 70000 }, ok: { port: 3, tls: 'yes' }, nul: null },
  }));
  t.same(bad?.protocols, { ok: { port: 3 } }, 'bad entries are ignored, the rest kept; the document stays usable');
  t.same(parseInstance(JSON.stringify({ host: 'h', port: 1, protocols: [1, 2] }))?.port, 1, 'a malformed protocols field never costs the instance');
});

t.test('StaticRegistry: grpc:// and grpcs:// name gRPC-only endpoints; anything else with a scheme is refused', async (t) => {
  const registry = new StaticRegistry(['grpc://127.0.0.1:50051', 'grpcs://[::1]:443', '127.0.0.1:7001']);
  const list = await new Promise<readonly Endpoint[]>((resolve) => registry.subscribe({ group: 'g', name: 's' }, resolve));
  t.match(list[0], { id: '127.0.0.1:50051', port: 50051, protocol: 'grpc', protocols: { grpc: { port: 50051 } } });
  t.match(list[1], { id: '[::1]:443', host: '::1', protocol: 'grpcs', protocols: { grpc: { port: 443, tls: true } } });
  t.notOk(list[2]!.protocols, 'a plain host:port is native');
  t.throws(() => new StaticRegistry(['http://127.0.0.1:1']), { code: 'ERR_INVALID_OPTION' });
});

t.test('TransportSelector: the first protocol of the preference both sides have; unreachable endpoints read as closed', async (t) => {
  const calls: string[] = [];
  const fake = (name: string) => ({
    call: async (endpoint: Endpoint) => { calls.push(`${name}@${endpoint.port}`); return { body: new Uint8Array(), metadata: new Map() }; },
    ping: async () => 1,
    state: () => 'ready' as const,
    onStateChange: () => ({ dispose() {} }),
    retain: (list: readonly Endpoint[]) => calls.push(`${name} retains ${list.map((e) => `${e.id}→${e.port}`).join(',')}`),
    close: async () => {},
  });
  const selector = new TransportSelector({ trellis: fake('trellis'), grpc: fake('grpc') }, ['trellis', 'grpc']);
  const base = { host: 'h', weight: 100, version: '1', tags: {} };
  const both: Endpoint = { ...base, id: 'h:1', port: 1, protocol: 'trellis', protocols: { trellis: { port: 1 }, grpc: { port: 2 } } };
  const grpcOnly: Endpoint = { ...base, id: 'h:3', port: 3, protocol: 'grpc', protocols: { grpc: { port: 3 } } };
  const old: Endpoint = { ...base, id: 'h:4', port: 4 };
  const alien: Endpoint = { ...base, id: 'h:5', port: 5, protocol: 'thrift' };
  const request = { group: 'g', service: 's', version: '', method: 'm', metadata: new Map(), body: new Uint8Array(), timeoutMs: 100, attempt: 1, signal: undefined };
  for (const endpoint of [both, grpcOnly, old]) await selector.call(endpoint, request);
  t.same(calls, ['trellis@1', 'grpc@3', 'trellis@4'], 'native where both sides have it, gRPC otherwise, native for documents without protocols');
  t.equal(selector.state(alien), 'closed', 'an endpoint serving none of our protocols reads as closed');
  await t.rejects(selector.call(alien, request), { code: 14, mayHaveRun: false });
  calls.length = 0;
  selector.retain([both, grpcOnly, alien]);
  t.same(calls, ['trellis retains h:1→1', 'grpc retains h:3→3'], 'each transport keeps its own endpoints, ids unchanged');
  const preferGrpc = new TransportSelector({ trellis: fake('trellis'), grpc: fake('grpc') }, ['grpc', 'trellis']);
  calls.length = 0;
  await preferGrpc.call(both, request);
  t.same(calls, ['grpc@2'], 'the preference order decides');
  t.throws(() => new TransportSelector({ trellis: fake('t') }, ['grpc']), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['grpc://127.0.0.1:1'] }), { code: 'ERR_INVALID_OPTION' }, 'grpc:// needs a gRPC transport');
  const alt = new TcpClientTransport();
  const client = new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], transports: { alt }, protocols: ['trellis'] });
  const plain: Endpoint = { id: '127.0.0.1:1', host: '127.0.0.1', port: 1, weight: 100, version: '1', tags: {} };
  t.equal((client.transport as TransportSelector).protocolOf(plain), 'trellis', 'the native transport is built when trellis is preferred and not given');
  await client.close();
  await alt.close();
});
