'use strict';
// consumer → A → B on loopback, traced, printed as a tree. Plain JS against the built package, the
// shape the demo can copy. Build first: `pnpm exec tsc -p tsconfig.build.json && node examples/three-hop.js`.
//
// With sdk-trace-base alone the application registers two things itself: an AsyncLocalStorage
// context manager (so a handler's own calls continue its span) and a tracer provider. Propagation
// needs nothing: the plugin speaks W3C trace context and baggage out of the box.
const path = require('node:path');
const { context, trace } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { loadProto } = require('@trellis/codec-protobuf');
const { RpcClient, RpcServer } = require('@trellis/core');
const { createEchoHandlers, freePort, loadEchoService } = require('@trellis/testkit');
const { formatTraceTree, tracing } = require('../dist/index.js');

async function main() {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);

  const b = new RpcServer({ host: '127.0.0.1', plugins: [tracing()] });
  b.addService(loadEchoService(), createEchoHandlers({ servedBy: 'b' }));
  await b.start();

  // A's first address is a port nobody listens on: the kernel re-sends the refused attempt to B,
  // and the CLIENT span shows both attempts.
  const deadPort = await freePort();
  const toB = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${deadPort}`, `127.0.0.1:${b.port}`], plugins: [tracing()] });
  const relay = loadProto(path.join(__dirname, '..', 'test', 'fixtures', 'relay.proto')).service('trellis.tracing.test.Relay');
  const a = new RpcServer({ host: '127.0.0.1', plugins: [tracing()] });
  a.addService(relay, {
    async forward(request) {
      const reply = await toB.invoke('Echo', { message: request.message });
      return { message: reply.message, servedBy: reply.servedBy };
    },
  });
  await a.start();

  const consumer = new RpcClient({ service: relay, addresses: [`127.0.0.1:${a.port}`], plugins: [tracing()] });
  await trace.getTracer('example').startActiveSpan('checkout', async (root) => {
    await consumer.invoke('Forward', { message: 'hello' });
    root.end();
  });

  await provider.forceFlush();
  console.log(formatTraceTree(exporter.getFinishedSpans()));
  await consumer.close();
  await toB.close();
  await a.close();
  await b.close();
  await provider.shutdown();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
