import { Counter, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { CounterFamily, HistogramFamily } from '../src/fast-families.js';
import { parseExposition } from './fixtures/prom-text.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const SAMPLES: [string, number][] = [['Echo', 0.0004], ['Echo', 0.001], ['Echo', 0.05], ['Mutate', 0.5], ['Echo', 7], ['Mutate', 0.01]];

/** The same observations into prom-client's own metrics and into the fast families. */
function twin(openMetrics = false) {
  const reference = new Registry();
  const fast = new Registry();
  if (openMetrics) {
    (reference as Registry).setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    (fast as Registry).setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  }
  const counter = new Counter({ name: 'calls_total', help: 'Calls.', labelNames: ['service', 'method'], registers: [reference] });
  const histogram = new Histogram({ name: 'latency_seconds', help: 'Latency.', labelNames: ['service', 'method'], buckets: BUCKETS, registers: [reference] });
  const calls = new CounterFamily('calls_total', 'Calls.', ['service', 'method']).registerIn(fast);
  const latency = new HistogramFamily('latency_seconds', 'Latency.', ['service', 'method'], BUCKETS).registerIn(fast);
  for (const [method, seconds] of SAMPLES) {
    const labels = { service: 'svc', method };
    counter.inc(labels);
    histogram.observe(labels, seconds);
    calls.series(labels).value++;
    latency.series(labels).observe(seconds);
  }
  return { reference, fast, calls, latency };
}

t.test('the fast families expose exactly what prom-client’s Counter and Histogram would', async (t) => {
  const { reference, fast } = twin();
  t.equal(await fast.metrics(), await reference.metrics(), 'the same exposition text, byte for byte');
  // As JSON: what cluster aggregation ships between workers.
  const json = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON())) as unknown;
  t.same(await json(fast), await json(reference), 'the same JSON (cluster aggregation reads it)');
  reference.setDefaultLabels({ instance: 'a' });
  fast.setDefaultLabels({ instance: 'a' });
  // prom-client puts default labels before a histogram's own; the order of labels means nothing.
  const samples = async (r: Registry) => parseExposition(await r.metrics()).samples.map((x) => JSON.stringify([x.name, Object.entries(x.labels).sort(), x.value])).sort();
  t.same(await samples(fast), await samples(reference), 'default labels apply alike');
  t.match(await fast.metrics(), /^calls_total\{service="svc",method="Echo",instance="a"\} 4$/m);
});

t.test('…in the OpenMetrics format too', async (t) => {
  const { reference, fast } = twin(true);
  t.equal(await fast.metrics(), await reference.metrics());
});

t.test('one series per label set; resetMetrics zeroes them', async (t) => {
  const { fast, calls, latency } = twin();
  t.equal(calls.series({ service: 'svc', method: 'Echo' }), calls.series({ method: 'Echo', service: 'svc' }), 'label order does not matter');
  t.not(calls.series({ service: 'svc', method: 'Echo' }), calls.series({ service: 'svc', method: 'Mutate' }));
  fast.resetMetrics();
  t.equal(calls.series({ service: 'svc', method: 'Echo' }).value, 0);
  t.equal(latency.series({ service: 'svc', method: 'Echo' }).count, 0);
  t.match(await fast.metrics(), /^latency_seconds_bucket\{le="0\.001",service="svc",method="Echo"\} 0$/m);
});
