import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Code, InterceptorOrder, notExecuted, RpcClient, RpcError, RpcServer, type LoadBalancer, type Plugin } from '@trellis/core';
import { withInvocation } from '@trellis/core/spi';
import { createEchoHandlers, loadEchoService, refusingPort } from '@trellis/testkit';
import t from 'tap';
import { ATTEMPT_EVENT, tracing } from '../src/index.js';
import { serviceTracing, useAsyncLocalStorage, type ServiceTracing } from './fixtures/otel.js';

useAsyncLocalStorage();

/** Picks the first endpoint not excluded, so which endpoint each attempt gets is known. */
const inOrder: LoadBalancer = {
  name: 'in-order',
  pick(list, inv) {
    const endpoint = list.find((e) => !inv.excluded.has(e.id));
    return endpoint && { endpoint, done: () => {} };
  },
};

async function echoServer(t: { teardown(fn: () => unknown): void }, name: string, traced: ServiceTracing, failCode = 0): Promise<RpcServer> {
  const handlers = createEchoHandlers({ servedBy: name });
  const server = new RpcServer({ host: '127.0.0.1', plugins: [tracing({ tracerProvider: traced.provider })] });
  server.addService(loadEchoService(), {
    echo: (request: { failCode: number }, call: never) => handlers.echo({ ...request, failCode: request.failCode || failCode } as never, call),
    mutate: handlers.mutate,
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return server;
}

function attemptEvents(span: { events: { name: string; attributes?: Record<string, unknown> }[] }) {
  return span.events.filter((e) => e.name === ATTEMPT_EVENT).map((e) => e.attributes!);
}

t.test('a transparent re-send after a refused connection shows both attempts and their endpoints', async (t) => {
  const consumer = serviceTracing('consumer');
  const provider = serviceTracing('provider');
  const live = await echoServer(t, 'live', provider);
  const dead = await refusingPort(); // refused, and held so no other process can listen there
  t.teardown(() => dead.close());
  const deadPort = dead.port;
  const client = new RpcClient({
    service: loadEchoService(),
    addresses: [`127.0.0.1:${deadPort}`, `127.0.0.1:${live.port}`],
    loadBalancer: inOrder,
    plugins: [tracing({ tracerProvider: consumer.provider })],
  });
  t.teardown(() => client.close());
  const reply = (await client.invoke('Echo', { message: 'hi' })) as { servedBy: string };
  t.equal(reply.servedBy, 'live');

  const [span, ...others] = await consumer.spans();
  t.equal(others.length, 0, 'one CLIENT span for the whole call');
  t.equal(span!.kind, SpanKind.CLIENT);
  t.equal(span!.status.code, SpanStatusCode.UNSET, 'the call succeeded');
  t.match(span!.attributes, { 'trellis.attempts': 2, 'server.port': live.port });
  const attempts = attemptEvents(span!);
  t.equal(attempts.length, 2);
  t.match(attempts[0], {
    'trellis.attempt.index': 1, 'trellis.attempt': 1, 'trellis.attempt.transparent': false,
    'server.address': '127.0.0.1', 'server.port': deadPort, 'rpc.trellis.status_code': Code.UNAVAILABLE, 'error.type': 'UNAVAILABLE',
  });
  t.type(attempts[0]!['trellis.error.message'], 'string');
  t.match(attempts[1], {
    'trellis.attempt.index': 2, 'trellis.attempt': 1, 'trellis.attempt.transparent': true,
    'server.port': live.port, 'rpc.trellis.status_code': Code.OK,
  });
  t.notOk('error.type' in attempts[1]!);

  const served = await provider.spans();
  t.equal(served.length, 1, 'only the attempt that got through reached a server');
  t.equal(served[0]!.parentSpanContext?.spanId, span!.spanContext().spanId, 'its SERVER span is a child of the CLIENT span');
});

t.test('a policy retry (a RETRY-order interceptor re-entering the chain) shows each attempt and each server span', async (t) => {
  const consumer = serviceTracing('consumer');
  const provider = serviceTracing('provider');
  const failing = await echoServer(t, 'failing', provider, Code.UNAVAILABLE);
  const healthy = await echoServer(t, 'healthy', provider);
  const failingId = `127.0.0.1:${failing.port}`;
  // What @trellis/retry does, reduced to its shape: next attempt, higher number, failed endpoint excluded.
  const retryOnce: Plugin = {
    meta: { name: 'test-retry', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addInterceptor((next) => (inv) => next(inv).catch(() => next(withInvocation(inv, { attempt: inv.attempt + 1, excluded: new Set([failingId]) }))), InterceptorOrder.RETRY);
    },
  };
  const client = new RpcClient({
    service: loadEchoService(),
    addresses: [failingId, `127.0.0.1:${healthy.port}`],
    loadBalancer: inOrder,
    plugins: [tracing({ tracerProvider: consumer.provider }), retryOnce],
  });
  t.teardown(() => client.close());
  t.equal(((await client.invoke('Echo', { message: 'hi' })) as { servedBy: string }).servedBy, 'healthy');

  const [span] = await consumer.spans();
  t.match(span!.attributes, { 'trellis.attempts': 2, 'server.port': healthy.port, 'rpc.trellis.status_code': Code.OK });
  const attempts = attemptEvents(span!);
  t.match(attempts, [
    { 'trellis.attempt.index': 1, 'trellis.attempt': 1, 'trellis.attempt.transparent': false, 'server.port': failing.port, 'error.type': 'UNAVAILABLE' },
    { 'trellis.attempt.index': 2, 'trellis.attempt': 2, 'trellis.attempt.transparent': false, 'server.port': healthy.port, 'rpc.trellis.status_code': Code.OK },
  ]);
  const served = (await provider.spans()).sort((a, b) => Number(a.attributes['trellis.attempt']) - Number(b.attributes['trellis.attempt']));
  t.equal(served.length, 2, 'both attempts reached a server');
  t.same(served.map((s) => s.parentSpanContext?.spanId), [span!.spanContext().spanId, span!.spanContext().spanId], 'both SERVER spans hang off the CLIENT span');
  t.same(served.map((s) => s.attributes['trellis.attempt']), [1, 2], 'each server saw its attempt number');
  t.same(served.map((s) => s.attributes['server.port']), [failing.port, healthy.port]);
  t.equal(served[0]!.status.code, SpanStatusCode.ERROR, 'UNAVAILABLE is an error on the server that threw it');
});

t.test('concurrent attempts (a hedge) keep their own index, whichever ends first', async (t) => {
  const consumer = serviceTracing('consumer');
  const provider = serviceTracing('provider');
  const slow = await echoServer(t, 'slow', provider);
  const fast = await echoServer(t, 'fast', provider);
  const slowId = `127.0.0.1:${slow.port}`;
  // What a hedging policy does, reduced to its shape: a backup attempt while the first is in flight.
  const hedge: Plugin = {
    meta: { name: 'test-hedge', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addInterceptor((next) => async (inv) => {
        const first = next(inv);
        const backup = next(withInvocation(inv, { attempt: 2, excluded: new Set([slowId]), request: { message: 'backup' } }));
        const [, won] = await Promise.all([first, backup]);
        return won;
      }, InterceptorOrder.RETRY);
    },
  };
  const client = new RpcClient({
    service: loadEchoService(),
    addresses: [slowId, `127.0.0.1:${fast.port}`],
    loadBalancer: inOrder,
    plugins: [tracing({ tracerProvider: consumer.provider }), hedge],
  });
  t.teardown(() => client.close());
  // The first attempt's server waits 1 s: the backup must end first, and both attempts also dial. A
  // stall of this process (servers and client alike) longer than that wait, between the first
  // attempt's dispatch and the backup's answer, ends the first attempt first; with 100 ms a loaded
  // machine could do that by chance.
  t.equal(((await client.invoke('Echo', { message: 'first', delayMs: 1000 })) as { servedBy: string }).servedBy, 'fast');
  const [span] = await consumer.spans();
  t.match(span!.attributes, { 'trellis.attempts': 2 });
  t.match(attemptEvents(span!), [
    { 'trellis.attempt.index': 2, 'trellis.attempt': 2, 'server.port': fast.port },
    { 'trellis.attempt.index': 1, 'trellis.attempt': 1, 'server.port': slow.port },
  ], 'the backup ended first and is still the second attempt');
});

t.test('breaker-style rejections: an endpoint one shows as an attempt, a service one as the call’s error', async (t) => {
  const consumer = serviceTracing('consumer');
  const provider = serviceTracing('provider');
  const open = await echoServer(t, 'open', provider);
  const closed = await echoServer(t, 'closed', provider);
  const openId = `127.0.0.1:${open.port}`;
  let serviceOpen = false;
  const breaker: Plugin = {
    meta: { name: 'test-breaker', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addInterceptor((next) => (inv) => {
        if (serviceOpen) throw notExecuted(Code.UNAVAILABLE, 'circuit open for the whole service');
        return next(inv);
      }, InterceptorOrder.BREAKER);
      ctx.addEndpointInterceptor((next) => (inv, endpoint) => {
        if (endpoint.id === openId) return Promise.reject(notExecuted(Code.UNAVAILABLE, `circuit open for ${endpoint.id}`));
        return next(inv, endpoint);
      }, InterceptorOrder.BREAKER);
    },
  };
  const client = new RpcClient({
    service: loadEchoService(),
    addresses: [openId, `127.0.0.1:${closed.port}`],
    loadBalancer: inOrder,
    plugins: [tracing({ tracerProvider: consumer.provider }), breaker],
  });
  t.teardown(() => client.close());
  t.equal(((await client.invoke('Echo', {})) as { servedBy: string }).servedBy, 'closed');
  let [span] = await consumer.spans();
  t.match(attemptEvents(span!), [
    { 'server.port': open.port, 'error.type': 'UNAVAILABLE', 'trellis.error.message': `circuit open for ${openId}` },
    { 'server.port': closed.port, 'trellis.attempt.transparent': true, 'rpc.trellis.status_code': Code.OK },
  ]);

  consumer.exporter.reset();
  serviceOpen = true;
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  [span] = await consumer.spans();
  t.equal(span!.status.code, SpanStatusCode.ERROR);
  t.equal(span!.status.message, 'circuit open for the whole service');
  t.equal(span!.attributes['trellis.attempts'], 0, 'rejected before any endpoint was picked');
  t.notOk('server.address' in span!.attributes);
  t.equal(attemptEvents(span!).length, 0);
});
