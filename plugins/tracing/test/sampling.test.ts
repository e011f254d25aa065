import { SpanKind } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import t from 'tap';
import { startChain } from './fixtures/chain.js';
import { useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();

const followParent = () => new ParentBasedSampler({ root: new AlwaysOnSampler() });
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

t.test('an unsampled trace creates no spans downstream, yet its context still travels consumer → A → B', async (t) => {
  // The consumer samples nothing (ratio 0); A and B would sample new traces but follow their parent.
  const chain = await startChain({
    samplers: { consumer: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }), a: followParent(), b: followParent() },
  });
  t.teardown(() => chain.close());
  await chain.consumer.invoke('Forward', { message: 'quiet' });
  await chain.consumer.invoke('Forward', { message: 'quiet again' });

  t.equal((await chain.tracing.consumer.spans()).length, 0, 'no span at the consumer');
  t.equal((await chain.tracing.a.spans()).length, 0, 'no span at A');
  t.equal((await chain.tracing.b.spans()).length, 0, 'no span at B');

  t.equal(chain.seenByB.length, 2);
  for (const [i, seen] of chain.seenByB.entries()) {
    const match = TRACEPARENT.exec(seen.metadata.get('traceparent') ?? '');
    t.ok(match, `call ${i + 1}: B still received a traceparent`);
    t.equal(match?.[3], '00', 'flagged not sampled');
    const inA = chain.seenByA[i]!;
    t.equal(match?.[1], inA.traceId, 'the trace id A continued is the one B got');
    t.equal(seen.active?.traceId, inA.traceId, 'B’s handler runs in that trace');
    t.equal(seen.active?.traceFlags, 0, 'and knows it is not sampled');
  }
  t.not(chain.seenByA[0]!.traceId, chain.seenByA[1]!.traceId, 'each call had its own (unsampled) trace');
});

t.test('AlwaysOff in the middle: A records nothing, B follows A’s decision, the trace id survives', async (t) => {
  const chain = await startChain({ samplers: { consumer: new AlwaysOnSampler(), a: new AlwaysOffSampler(), b: followParent() } });
  t.teardown(() => chain.close());
  await chain.consumer.invoke('Forward', { message: 'x' });
  const consumerSpans = await chain.tracing.consumer.spans();
  t.equal(consumerSpans.length, 1);
  t.equal(consumerSpans[0]!.kind, SpanKind.CLIENT);
  t.equal((await chain.tracing.a.spans()).length, 0);
  t.equal((await chain.tracing.b.spans()).length, 0, 'B did not sample what A dropped');
  const match = TRACEPARENT.exec(chain.seenByB[0]!.metadata.get('traceparent') ?? '');
  t.equal(match?.[1], consumerSpans[0]!.spanContext().traceId, 'same trace id at B');
  t.equal(match?.[3], '00');
});

t.test('a sampled trace is recorded at every hop that follows its parent', async (t) => {
  const chain = await startChain({ samplers: { consumer: new AlwaysOnSampler(), a: followParent(), b: followParent() } });
  t.teardown(() => chain.close());
  await chain.consumer.invoke('Forward', { message: 'x' });
  t.equal((await chain.tracing.consumer.spans()).length, 1);
  t.equal((await chain.tracing.a.spans()).length, 2);
  t.equal((await chain.tracing.b.spans()).length, 1);
  t.match(chain.seenByB[0]!.metadata.get('traceparent'), /-01$/);
});
