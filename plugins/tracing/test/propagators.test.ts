import {
  createTraceState, defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, trace, TraceFlags,
  baggageEntryMetadataFromString, type Context,
} from '@opentelemetry/api';
import t from 'tap';
import {
  BaggagePropagator, metadataGetter, metadataSetter, parseTraceParent, TraceContextPropagator, w3cPropagator,
} from '../src/index.js';
import { otelCore } from './fixtures/otel.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function withSpanContext(traceFlags: number, traceState?: string): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE_ID, spanId: SPAN_ID, traceFlags, isRemote: false,
    traceState: traceState === undefined ? undefined : createTraceState(traceState),
  });
}

t.test('traceparent: what W3C Trace Context accepts and what it ignores', (t) => {
  t.same(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-01`), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
  t.equal(parseTraceParent(`  00-${TRACE_ID}-${SPAN_ID}-00 `)?.traceFlags, 0, 'surrounding whitespace is trimmed');
  t.equal(parseTraceParent(`cc-${TRACE_ID}-${SPAN_ID}-01-what-the-future-holds`)?.traceId, TRACE_ID, 'a later version may carry more fields');
  t.equal(parseTraceParent(`00-${TRACE_ID}-${SPAN_ID}-01-extra`), undefined, 'version 00 has exactly four fields');
  t.equal(parseTraceParent(`ff-${TRACE_ID}-${SPAN_ID}-01`), undefined, 'version ff is forbidden');
  t.equal(parseTraceParent(`00-${'0'.repeat(32)}-${SPAN_ID}-01`), undefined, 'all-zero trace id');
  t.equal(parseTraceParent(`00-${TRACE_ID}-${'0'.repeat(16)}-01`), undefined, 'all-zero parent id');
  t.equal(parseTraceParent(`00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`), undefined, 'upper-case hex');
  t.equal(parseTraceParent(`00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`), undefined, 'short trace id');
  t.equal(parseTraceParent('garbage'), undefined);
  t.end();
});

t.test('trace context round-trips through call metadata, tracestate included', (t) => {
  const propagator = new TraceContextPropagator();
  const metadata = new Map<string, string>();
  propagator.inject(withSpanContext(TraceFlags.SAMPLED, 'vendor=abc,other=1'), metadata, metadataSetter);
  t.same([...metadata], [['traceparent', `00-${TRACE_ID}-${SPAN_ID}-01`], ['tracestate', 'vendor=abc,other=1']]);
  const extracted = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, metadata, metadataGetter))!;
  t.match(extracted, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
  t.equal(extracted.traceState?.get('vendor'), 'abc');

  const unsampled = new Map<string, string>();
  propagator.inject(withSpanContext(TraceFlags.NONE), unsampled, metadataSetter);
  t.same([...unsampled], [['traceparent', `00-${TRACE_ID}-${SPAN_ID}-00`]], 'no tracestate header when there is none');
  const odd = new Map<string, string>();
  propagator.inject(withSpanContext(0x03), odd, metadataSetter);
  t.equal(odd.get('traceparent'), `00-${TRACE_ID}-${SPAN_ID}-03`, 'other flags are kept as two hex digits');

  const none = new Map<string, string>();
  propagator.inject(ROOT_CONTEXT, none, metadataSetter);
  t.equal(none.size, 0, 'nothing to inject without a valid span context');
  t.equal(propagator.extract(ROOT_CONTEXT, new Map([['traceparent', 'nope']]), metadataGetter), ROOT_CONTEXT, 'an invalid header leaves the context alone');
  t.end();
});

t.test('baggage round-trips: escaping, metadata, and malformed members skipped', (t) => {
  const propagator = new BaggagePropagator();
  const baggage = propagation.createBaggage({
    tenant: { value: 'acme corp' },
    'odd key': { value: 'a,b;c=d' },
    region: { value: 'eu', metadata: baggageEntryMetadataFromString('ttl=60') },
  });
  const metadata = new Map<string, string>();
  propagator.inject(propagation.setBaggage(ROOT_CONTEXT, baggage), metadata, metadataSetter);
  t.equal(metadata.get('baggage'), 'tenant=acme%20corp,odd%20key=a%2Cb%3Bc%3Dd,region=eu;ttl=60');
  const back = propagation.getBaggage(propagator.extract(ROOT_CONTEXT, metadata, metadataGetter))!;
  t.same(back.getAllEntries().map(([k, e]) => [k, e.value]), [['tenant', 'acme corp'], ['odd key', 'a,b;c=d'], ['region', 'eu']]);
  t.equal(back.getEntry('region')?.metadata?.toString(), 'ttl=60');

  const messy = new Map([['baggage', ' a = 1 ,=nokey,broken=%E0%A4%A,novalue, b=2;p']]);
  const parsed = propagation.getBaggage(propagator.extract(ROOT_CONTEXT, messy, metadataGetter))!;
  t.same(parsed.getAllEntries().map(([k, e]) => [k, e.value]), [['a', '1'], ['b', '2']], 'bad escapes and missing keys are dropped, not the header');
  t.equal(propagator.extract(ROOT_CONTEXT, new Map([['baggage', 'x'.repeat(9000)]]), metadataGetter), ROOT_CONTEXT, 'over 8192 bytes: ignored');
  t.end();
});

t.test('baggage injection keeps to the W3C limits', (t) => {
  const propagator = new BaggagePropagator();
  const entries: Record<string, { value: string }> = { huge: { value: 'x'.repeat(5000) } };
  for (let i = 0; i < 300; i++) entries[`k${i}`] = { value: 'v' };
  const metadata = new Map<string, string>();
  propagator.inject(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(entries)), metadata, metadataSetter);
  const members = metadata.get('baggage')!.split(',');
  t.equal(members.length, 180, 'at most 180 members');
  t.notOk(members.some((m) => m.startsWith('huge=')), 'a member over 4096 bytes is dropped');
  t.end();
});

t.test('interoperates with @opentelemetry/core’s W3C propagators both ways', (t) => {
  const reference = new otelCore.CompositePropagator({
    propagators: [new otelCore.W3CTraceContextPropagator(), new otelCore.W3CBaggagePropagator()],
  });
  const baggage = propagation.createBaggage({ user: { value: 'ana maría' }, plan: { value: 'pro', metadata: baggageEntryMetadataFromString('p=1') } });
  const ctx = propagation.setBaggage(withSpanContext(TraceFlags.SAMPLED, 'k1=v1,k2=v2'), baggage);

  const ours: Record<string, string> = {};
  w3cPropagator.inject(ctx, ours, defaultTextMapSetter);
  const theirs: Record<string, string> = {};
  reference.inject(ctx, theirs, defaultTextMapSetter);
  t.same(ours, theirs, 'the same headers byte for byte');

  for (const [from, to] of [[w3cPropagator, reference], [reference, w3cPropagator]] as const) {
    const carrier: Record<string, string> = {};
    from.inject(ctx, carrier, defaultTextMapSetter);
    const out = to.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    t.match(trace.getSpanContext(out), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    t.equal(trace.getSpanContext(out)?.traceState?.serialize(), 'k1=v1,k2=v2');
    t.same(propagation.getBaggage(out)?.getAllEntries().map(([k, e]) => [k, e.value, e.metadata?.toString()]),
      [['user', 'ana maría', undefined], ['plan', 'pro', 'p=1']]);
  }
  t.same(w3cPropagator.fields(), ['traceparent', 'tracestate', 'baggage']);
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
