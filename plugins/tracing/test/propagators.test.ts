import {
  baggageEntryMetadataFromString, createTraceState, propagation, ROOT_CONTEXT, trace, TraceFlags, type Context,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import t from 'tap';
import { globalPropagator, metadataGetter, metadataSetter, w3cPropagator } from '../src/index.js';

// No global propagator is registered in this file (each test file is its own process): the plugin's
// default propagator is W3C trace context + baggage from @opentelemetry/core.

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function withSpanContext(traceFlags: number, traceState?: string): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE_ID, spanId: SPAN_ID, traceFlags, isRemote: false,
    traceState: traceState === undefined ? undefined : createTraceState(traceState),
  });
}

function withBaggage(ctx: Context): Context {
  return propagation.setBaggage(ctx, propagation.createBaggage({
    tenant: { value: 'acme corp' },
    region: { value: 'eu', metadata: baggageEntryMetadataFromString('ttl=60') },
  }));
}

t.test('with no global propagator: W3C trace context and baggage round-trip through call metadata', (t) => {
  for (const propagator of [globalPropagator, w3cPropagator]) {
    const metadata = new Map<string, string>();
    propagator.inject(withBaggage(withSpanContext(TraceFlags.SAMPLED, 'vendor=abc,other=1')), metadata, metadataSetter);
    t.same([...metadata], [
      ['traceparent', `00-${TRACE_ID}-${SPAN_ID}-01`],
      ['tracestate', 'vendor=abc,other=1'],
      ['baggage', 'tenant=acme%20corp,region=eu;ttl=60'],
    ]);
    const back = propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
    t.match(trace.getSpanContext(back), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    t.equal(trace.getSpanContext(back)?.traceState?.get('vendor'), 'abc');
    t.same(propagation.getBaggage(back)?.getAllEntries().map(([k, e]) => [k, e.value]), [['tenant', 'acme corp'], ['region', 'eu']]);
  }
  t.same(globalPropagator.fields(), ['traceparent', 'tracestate', 'baggage']);
  t.end();
});

t.test('suppressed tracing: nothing is injected', (t) => {
  const metadata = new Map<string, string>();
  globalPropagator.inject(suppressTracing(withBaggage(withSpanContext(TraceFlags.SAMPLED))), metadata, metadataSetter);
  t.same([...metadata], [], 'neither traceparent nor baggage');
  t.end();
});

t.test('what a peer sends that cannot be used is ignored, never thrown', (t) => {
  const bad = new Map([['traceparent', 'nope'], ['baggage', ' a = 1 ,=nokey,broken=%E0%A4%A,novalue, b=2;p']]);
  const ctx = globalPropagator.extract(ROOT_CONTEXT, bad, metadataGetter);
  t.equal(trace.getSpanContext(ctx), undefined, 'an invalid traceparent leaves no span context');
  t.same(propagation.getBaggage(ctx)?.getAllEntries().map(([k, e]) => [k, e.value]), [['a', '1'], ['b', '2']],
    'bad escapes and missing keys drop their member, not the header');
  const huge = new Map([['baggage', `k=${'x'.repeat(9000)}`]]);
  t.equal(propagation.getBaggage(globalPropagator.extract(ROOT_CONTEXT, huge, metadataGetter)), undefined, 'a member over the W3C limits is dropped');
  t.end();
});

t.test('baggage injection keeps to the W3C limits', (t) => {
  const entries: Record<string, { value: string }> = { huge: { value: 'x'.repeat(5000) } };
  for (let i = 0; i < 300; i++) entries[`k${i}`] = { value: 'v' };
  const metadata = new Map<string, string>();
  globalPropagator.inject(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(entries)), metadata, metadataSetter);
  const members = metadata.get('baggage')!.split(',');
  t.equal(members.length, 180, 'at most 180 members');
  t.notOk(members.some((m) => m.startsWith('huge=')), 'a member over 4096 bytes is dropped');
  t.end();
});

t.test('the metadata carrier lower-cases keys, as Trellis metadata requires', (t) => {
  const metadata = new Map<string, string>();
  metadataSetter.set(metadata, 'X-B3-TraceId', 'abc');
  t.same([...metadata.keys()], ['x-b3-traceid']);
  t.equal(metadataGetter.get(metadata, 'X-B3-TraceId'), 'abc');
  t.same(metadataGetter.keys(metadata), ['x-b3-traceid']);
  t.end();
});
