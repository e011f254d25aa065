import { SpanKind } from '@opentelemetry/api';
import { checkPlugin } from '@trellis/core/spi';
import { Code } from '@trellis/core';
import t from 'tap';
import { tracing } from '../src/index.js';
import { startChain } from './fixtures/chain.js';
import { useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();

t.test('meta passes the kernel’s plugin check on both sides', (t) => {
  const plugin = tracing();
  t.same(plugin.meta, { name: '@trellis/tracing', kernel: '^0.1.0' });
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.doesNotThrow(() => checkPlugin(plugin, 'server', new Set()));
  t.end();
});

t.test('bad options fail at tracing() with ERR_INVALID_OPTION naming the option', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ tracerProvider: {} }, /tracing option "tracerProvider" is \{\}; expected an OpenTelemetry TracerProvider/],
    [{ propagator: 'w3c' }, /tracing option "propagator" is "w3c"; expected a TextMapPropagator/],
    [{ propagator: { inject() {} } }, /"propagator" .*expected a TextMapPropagator \(inject, extract, fields\)/],
    [{ semconv: 'v2' }, /tracing option "semconv" is "v2"; expected 'legacy' or 'stable'/],
    [null, /tracing option "options" is null/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => tracing(options as never), { name: 'TrellisError', code: 'ERR_INVALID_OPTION', message }, JSON.stringify(options));
  }
  t.end();
});

t.test("semconv: 'stable' writes rpc.system.name, a qualified rpc.method and rpc.status_code names", async (t) => {
  const chain = await startChain({ semconv: 'stable' });
  t.teardown(() => chain.close());
  await chain.consumer.invoke('Forward', { message: 'x' });
  await chain.consumer.invoke('Forward', { message: 'x', failCode: Code.NOT_FOUND }).catch(() => undefined);
  const [ok, failed] = (await chain.tracing.consumer.spans()).filter((s) => s.kind === SpanKind.CLIENT);
  t.match(ok!.attributes, { 'rpc.system.name': 'trellis', 'rpc.method': 'trellis.tracing.test.Relay/Forward', 'rpc.status_code': 'OK', 'server.port': chain.a.port });
  t.notOk('rpc.service' in ok!.attributes || 'rpc.system' in ok!.attributes || 'rpc.trellis.status_code' in ok!.attributes, 'no legacy attributes');
  t.match(failed!.attributes, { 'rpc.status_code': 'NOT_FOUND', 'error.type': 'NOT_FOUND' });
  t.match(failed!.events.find((e) => e.name === 'trellis.attempt')?.attributes, { 'rpc.status_code': 'NOT_FOUND' });
  const [server] = (await chain.tracing.b.spans());
  t.match(server!.attributes, { 'rpc.method': 'trellis.test.EchoService/Echo', 'rpc.status_code': 'OK' });
});

t.test('OTEL_SEMCONV_STABILITY_OPT_IN=rpc makes stable the default, as OpenTelemetry instrumentations do', async (t) => {
  const saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
  process.env.OTEL_SEMCONV_STABILITY_OPT_IN = 'http, rpc';
  t.teardown(() => {
    if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved;
  });
  const chain = await startChain();
  t.teardown(() => chain.close());
  await chain.consumer.invoke('Forward', { message: 'x' });
  const [span] = await chain.tracing.consumer.spans();
  t.equal(span!.attributes['rpc.system.name'], 'trellis');
  t.equal(span!.attributes['rpc.status_code'], 'OK');
});
