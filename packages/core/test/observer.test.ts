import t from 'tap';
import {
  Code, definePlugin, EndpointInterceptorOrder, InterceptorOrder, RpcClient, RpcError, type Attempt, type CallEnd, type CallObserver,
  type Endpoint, type LoadBalancer, type Plugin,
} from '../src/index.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

/** What an observer saw, copied out of the kernel's records (they are valid only during the callback). */
interface SeenAttempt {
  endpoint: string;
  method: string;
  attempt: number;
  send: number;
  code: Code;
  mayHaveRun: boolean;
  latencyMs: number;
  bytesSent: number;
  bytesReceived: number;
  errorEndpoint: string | undefined;
}

function recording(extra: Partial<CallObserver<string>> = {}) {
  const started: string[] = [];
  const ended: SeenAttempt[] = [];
  const calls: { code: Code; endpoint: string | undefined; state: string | undefined; latencyMs: number }[] = [];
  const observer: CallObserver<string> = {
    callStart: (inv) => `state of ${inv.method.name}`,
    attemptStart: (attempt: Attempt) => { started.push(attempt.endpoint.id); },
    attemptEnd: (attempt: Attempt) => {
      ended.push({
        endpoint: attempt.endpoint.id, method: attempt.invocation.method.name, attempt: attempt.invocation.attempt, send: attempt.send,
        code: attempt.code, mayHaveRun: attempt.mayHaveRun, latencyMs: attempt.latencyMs, bytesSent: attempt.bytesSent,
        bytesReceived: attempt.bytesReceived, errorEndpoint: attempt.error?.endpoint?.id,
      });
    },
    callEnd: (call: CallEnd, state) => { calls.push({ code: call.code, endpoint: call.endpoint?.id, state, latencyMs: call.latencyMs }); },
    ...extra,
  };
  const plugin: Plugin = definePlugin({ meta: { name: 'test-observer', kernel: '^0.1.0' }, setupClient: (ctx) => ctx.observe(observer) });
  return { plugin, started, ended, calls };
}

/** Picks the endpoint on port `prefer` first, then any the call has not tried. */
function preferring(port: number): LoadBalancer {
  const pick = (endpoint: Endpoint) => ({ endpoint, done() {} });
  return {
    name: 'prefer',
    pick(list, inv) {
      const open = list.filter((e) => !inv.excluded.has(e.id));
      const first = open.find((e) => e.port === port) ?? open[0];
      return first === undefined ? undefined : pick(first);
    },
  };
}

t.test('the attempt hook sees each attempt once: endpoint, method, code, mayHaveRun, latency, attempt number, bytes', async (t) => {
  const { server, address } = await startEchoServer('a');
  const seen = recording();
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [seen.plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', { message: 'hello' });
  t.same(seen.started, [address], 'attemptStart once');
  t.equal(seen.ended.length, 1, 'attemptEnd once');
  const [ok] = seen.ended;
  t.match(ok, { endpoint: address, method: 'Echo', attempt: 1, send: 1, code: Code.OK, mayHaveRun: true, errorEndpoint: undefined });
  t.ok(ok!.latencyMs >= 0, 'latency measured');
  t.equal(ok!.bytesSent, Buffer.byteLength(JSON.stringify({ message: 'hello' })), 'bytes of the encoded request');
  t.ok(ok!.bytesReceived > 0, 'bytes of the encoded response');
  t.same(seen.calls.map((c) => [c.code, c.endpoint, c.state]), [[Code.OK, address, 'state of Echo']], 'callEnd once, with what callStart returned');

  await t.rejects(client.invoke('Echo', { failCode: Code.NOT_FOUND }), { code: Code.NOT_FOUND, endpoint: { id: address } }, 'the caller’s error names the endpoint');
  t.match(seen.ended[1], { code: Code.NOT_FOUND, mayHaveRun: true, errorEndpoint: address, bytesReceived: 0 });
  t.match(seen.calls[1], { code: Code.NOT_FOUND, endpoint: address });
});

t.test('a transparent re-send is a second send of the same attempt, on the endpoint that took it', async (t) => {
  const { server, address } = await startEchoServer('live');
  const seen = recording();
  // Port 1 refuses connections: the request provably never ran, so the kernel re-sends it.
  const client = new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1', address], loadBalancer: preferring(1), plugins: [seen.plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const reply = await client.invoke('Echo', { message: 'x' }) as { servedBy: string };
  t.equal(reply.servedBy, 'live');
  t.match(seen.ended, [
    { endpoint: '127.0.0.1:1', attempt: 1, send: 1, code: Code.UNAVAILABLE, mayHaveRun: false, errorEndpoint: '127.0.0.1:1' },
    { endpoint: address, attempt: 1, send: 2, code: Code.OK, mayHaveRun: true },
  ]);
  t.equal(seen.ended.length, 2);
  t.same(seen.calls.map((c) => [c.code, c.endpoint]), [[Code.OK, address]], 'one call, answered by the live endpoint');
});

t.test('a call refused before any endpoint was picked reports no attempt and blames no endpoint', async (t) => {
  const seen = recording();
  const refuse = definePlugin({
    meta: { name: 'test-refuse', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addRouter({ name: 'nothing', order: 100, route: () => [] }),
  });
  const client = new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], plugins: [seen.plugin, refuse] });
  t.teardown(() => client.close());
  const error = await client.invoke('Echo', {}).catch((e: unknown) => e as RpcError);
  t.match(error, { code: Code.UNAVAILABLE, mayHaveRun: false, message: /nothing router left none/ });
  t.equal((error as RpcError).endpoint, undefined, 'no endpoint on the error');
  t.same(seen.started, []);
  t.same(seen.ended, []);
  t.same(seen.calls.map((c) => [c.code, c.endpoint]), [[Code.UNAVAILABLE, undefined]]);
});

t.test('with cluster interceptors, callEnd sees the call as the caller gets it, after them', async (t) => {
  const { server, address } = await startEchoServer('a');
  const seen = recording();
  const rewrite = definePlugin({
    meta: { name: 'test-rewrite', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addInterceptor((next) => (inv) => next(inv).catch(() => {
      throw new RpcError(Code.ABORTED, 'rewritten');
    }), InterceptorOrder.USER),
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [seen.plugin, rewrite] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await t.rejects(client.invoke('Echo', { failCode: Code.INTERNAL }), { code: Code.ABORTED });
  t.match(seen.ended, [{ code: Code.INTERNAL, endpoint: address }], 'the attempt’s own outcome');
  t.match(seen.calls, [{ code: Code.ABORTED, state: 'state of Echo' }], 'the call’s, after the interceptor');
});

t.test('an observer that throws is reported once and cannot change the call', async (t) => {
  const { server, address } = await startEchoServer('a');
  const seen = recording({ attemptEnd: () => { throw new Error('observer bug'); } });
  const warnings: string[] = [];
  const onWarning = (warning: Error) => { if (warning.name === 'TrellisWarning') warnings.push(warning.message); };
  process.on('warning', onWarning);
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [seen.plugin] });
  t.teardown(async () => { process.off('warning', onWarning); await client.close(); await server.close(); });
  t.match(await client.invoke('Echo', { message: 'a' }), { message: 'a' });
  t.match(await client.invoke('Echo', { message: 'b' }), { message: 'b' });
  t.equal(seen.calls.length, 2, 'the other hooks still ran');
  await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  t.equal(warnings.length, 1, 'reported once');
  t.match(warnings[0], /observer bug/);
});

t.test('endpoint interceptors run by EndpointInterceptorOrder, between attemptStart and attemptEnd', async (t) => {
  const { server, address } = await startEchoServer('a');
  const order: string[] = [];
  const bytes: number[] = [];
  const seen = recording({
    attemptStart: () => { order.push('attemptStart'); },
    attemptEnd: (attempt) => {
      order.push(`attemptEnd:${attempt.code}`);
      bytes.push(attempt.bytesSent, attempt.bytesReceived);
    },
  });
  const slots = definePlugin({
    meta: { name: 'test-endpoint-slots', kernel: '^0.1.0' },
    setupClient(ctx) {
      // Registered out of order: the slots decide.
      ctx.addEndpointInterceptor((next) => (inv, endpoint) => { order.push('WIRE'); return next(inv, endpoint); }, EndpointInterceptorOrder.WIRE);
      ctx.addEndpointInterceptor((next) => (inv, endpoint) => { order.push('USER'); return next(inv, endpoint); }, EndpointInterceptorOrder.USER);
      ctx.addEndpointInterceptor((next) => (inv, endpoint) => {
        order.push('REWRITE');
        inv.metadata.set('x-endpoint', endpoint.id);
        return next(inv, endpoint);
      }, EndpointInterceptorOrder.REWRITE);
    },
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [seen.plugin, slots] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const reply = await client.invoke('Echo', { message: 'x' }) as { metadata: Record<string, string> };
  t.same(order, ['attemptStart', 'REWRITE', 'USER', 'WIRE', `attemptEnd:${Code.OK}`]);
  t.equal(reply.metadata['x-endpoint'], address, 'the rewrite reached the server');
  t.ok(bytes.length === 2 && bytes.every((n) => n > 0), `bytes are reported through the endpoint chain too (${bytes.join(', ')})`);
});
