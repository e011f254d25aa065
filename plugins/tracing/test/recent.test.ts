import { SpanKind } from '@opentelemetry/api';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace-base';
import { RpcClient, RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import t from 'tap';
import { tracing } from '../src/index.js';
import { serviceTracing, useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();

interface Recent {
  traceId: string;
  spanId: string;
  method: string;
  code: string;
  latencyMs: number;
  endedAt: number;
  attempts: { endpoint: string; attempt: number; transparent: boolean; code: string; latencyMs: number }[];
}

async function echoServer(t: { teardown(fn: () => unknown): void }): Promise<RpcServer> {
  const server = new RpcServer({ host: '127.0.0.1' });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'echo' }));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return server;
}

const recentOf = (client: RpcClient): Recent[] => (client.inspect().inspectors['@trellis/tracing'] as { recent: Recent[] }).recent;

t.test('the console’s recent calls: the last 50 sampled calls, newest first, each with its sends', async (t) => {
  const server = await echoServer(t);
  const traced = serviceTracing('consumer');
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [tracing({ tracerProvider: traced.provider })] });
  t.teardown(() => client.close());
  await client.start();
  t.same(recentOf(client), [], 'nothing before the first call');

  for (let i = 0; i < 3; i++) await client.invoke('Echo', { message: `m${i}` });
  const three = recentOf(client);
  const spans = (await traced.spans()).filter((s) => s.kind === SpanKind.CLIENT);
  t.same(three.map((r) => r.spanId), spans.map((s) => s.spanContext().spanId).reverse(), 'newest first');
  t.match(three[0], { traceId: spans[2]!.spanContext().traceId, method: 'Echo', code: 'OK' });
  t.equal(three[0]!.attempts.length, 1);
  t.match(three[0]!.attempts[0], { endpoint: `127.0.0.1:${server.port}`, attempt: 1, transparent: false, code: 'OK' });
  t.ok(three[0]!.latencyMs >= 0 && three[0]!.endedAt >= three[2]!.endedAt);

  // Past the capacity the oldest calls leave the ring.
  for (let i = 3; i < 57; i++) await client.invoke('Echo', { message: `m${i}` });
  const all = (await traced.spans()).filter((s) => s.kind === SpanKind.CLIENT).map((s) => s.spanContext().spanId);
  t.equal(all.length, 57);
  t.same(recentOf(client).map((r) => r.spanId), all.slice(-50).reverse(), 'the last 50, newest first');
});

t.test('calls the sampler drops are not listed', async (t) => {
  const server = await echoServer(t);
  const traced = serviceTracing('consumer', new AlwaysOffSampler());
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [tracing({ tracerProvider: traced.provider })] });
  t.teardown(() => client.close());
  await client.invoke('Echo', { message: 'dropped' });
  t.same(recentOf(client), []);
});
