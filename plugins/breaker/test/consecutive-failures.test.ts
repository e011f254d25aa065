import t from 'tap';
import type { Test } from 'tap';
import { Code, ContextValues, RpcClient, type Endpoint, type Invocation } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import { breaker, DEFAULT_ENDPOINT_CONSECUTIVE_FAILURES, type BreakerEvent } from '../src/index.js';
import { BreakerConfig } from '../src/breaker-config.js';
import { CircuitSet } from '../src/circuit-set.js';
import { EndpointBreaker } from '../src/endpoint-breaker.js';
import { Outcome } from '../src/failure-codes.js';
import { FakeClock, SkippingClock } from './fixtures/clocks.js';
import { cluster, echo } from './fixtures/providers.js';

const ECHO = loadEchoService();

t.test('with default settings, an endpoint failing every call leaves the rotation after 5 failures', async (t) => {
  // Issue #16: the failing provider's circuit stayed closed at 13 of 13 failures (below minCalls 20)
  // while the method's circuit, seeing 50 % over two providers, opened for every endpoint.
  const { registry, providers: [a, b] } = await cluster(t, ['a', 'b']);
  const events: BreakerEvent[] = [];
  // Default trip settings; only the cool-down is long, so the loop below cannot outlast it.
  const plugin = breaker({ coolDownMs: 60_000, maxCoolDownMs: 60_000, onStateChange: (e) => events.push(e) });
  const client = new RpcClient({ service: ECHO, registry, plugins: [plugin] });
  t.teardown(() => client.close());
  b!.behave({ failures: 1, period: 1 });
  const served: string[] = [];
  for (let i = 0; i < 60; i++) served.push(await echo(client));
  t.equal(DEFAULT_ENDPOINT_CONSECUTIVE_FAILURES, 5);
  t.same(events.map((e) => [e.kind, e.key, e.to, e.reason]), [['endpoint', b!.id, 'open', '5 calls in a row failed']], 'only b\'s endpoint circuit opened');
  t.equal(b!.calls.total, 5, 'b got exactly the 5 calls that tripped it');
  t.equal(served.filter((s) => s.startsWith('error:')).length, 5);
  t.equal(served.slice(10).filter((s) => s !== 'a').length, 0, 'a served every call after that');
  t.equal(a!.calls.total, 55);
  t.equal(plugin.states().find((s) => s.kind === 'method')?.state, 'closed');
});

t.test('consecutiveFailures: a success in between resets the count; 0 turns it off; it can be set per level', async (t) => {
  const { registry, providers: [a, b] } = await cluster(t, ['a', 'b']);
  const events: BreakerEvent[] = [];
  const client = new RpcClient({ service: ECHO, registry, plugins: [breaker({ endpoint: { consecutiveFailures: 0 }, method: false, coolDownMs: 60_000, maxCoolDownMs: 60_000, onStateChange: (e) => events.push(e) })] });
  t.teardown(() => client.close());
  b!.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 30; i++) await echo(client);
  t.same(events, [], 'off: 15 failures in a row, below minCalls, trip nothing');
  for (let i = 0; i < 12; i++) await echo(client);
  t.match(events, [{ kind: 'endpoint', key: b!.id, to: 'open', reason: /^\d+ of \d+ calls failed/ }], 'the ratio still works');
  t.ok(a!.calls.total > 0);

  const { registry: r2, providers: [, d] } = await cluster(t, ['c', 'd']);
  const events2: BreakerEvent[] = [];
  const client2 = new RpcClient({ service: ECHO, registry: r2, plugins: [breaker({ consecutiveFailures: 3, minCalls: 1000, onStateChange: (e) => events2.push(e) })] });
  t.teardown(() => client2.close());
  d!.behave({ failures: 2, period: 3 }); // two in a row, then a success
  for (let i = 0; i < 30; i++) await echo(client2);
  t.same(events2, [], 'never 3 in a row');
  d!.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await echo(client2);
  t.match(events2, [{ kind: 'endpoint', key: d!.id, to: 'open', reason: '3 calls in a row failed' }], 'a top-level setting reaches the endpoint level');

  t.throws(() => breaker({ consecutiveFailures: -1 }), { code: 'ERR_INVALID_OPTION', message: /"consecutiveFailures"/ });
  t.throws(() => breaker({ method: { consecutiveFailures: 1.5 } }), { code: 'ERR_INVALID_OPTION', message: /"method\.consecutiveFailures"/ });
});

t.test('a retry whose untried endpoints are all open is told which circuits are open', async (t) => {
  const clock = new FakeClock();
  const set = new CircuitSet('default/x', 'endpoint', () => {});
  const config = new BreakerConfig({ coolDownMs: 100 }, undefined);
  const router = new EndpointBreaker(set, config, clock);
  const endpoint = (port: number): Endpoint => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight: 100, version: '1.0.0', tags: {} }) as Endpoint;
  const list = Object.freeze([endpoint(1), endpoint(2), endpoint(3)]);
  const invocation = (excluded: string[]) => ({ excluded: new Set(excluded), context: new ContextValues() }) as unknown as Invocation;
  for (const port of [1, 3]) {
    const circuit = set.get(`127.0.0.1:${port}`, config.current.endpoint!);
    for (let i = 0; i < 5; i++) circuit.onResult(clock.now(), circuit.acquire(clock.now()), 1 /* FAILURE */, 0); // one after another (no overlap)
  }
  t.same(router.route(list, invocation([])).map((e) => e.id), ['127.0.0.1:2'], 'a first attempt gets the closed one');
  let thrown: unknown;
  try {
    router.route(list, invocation(['127.0.0.1:2']));
  } catch (error) {
    thrown = error;
  }
  t.match(thrown, {
    code: Code.UNAVAILABLE,
    mayHaveRun: false,
    message: 'circuit open for every provider this call has not tried yet of default/x: 127.0.0.1:1 (open, half-open in 100 ms), 127.0.0.1:3 (open, half-open in 100 ms)',
  });
  t.same(router.route(list, invocation(['127.0.0.1:1'])).map((e) => e.id), ['127.0.0.1:2'], 'a retry with a closed endpoint left is routed as before');
});

t.test('a half-open endpoint takes its probes one at a time', async (t) => {
  const clock = new FakeClock();
  const set = new CircuitSet('default/x', 'endpoint', () => {});
  const config = new BreakerConfig({ coolDownMs: 100 }, undefined);
  const router = new EndpointBreaker(set, config, clock);
  const endpoint = (port: number): Endpoint => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight: 100, version: '1.0.0', tags: {} }) as Endpoint;
  const list = Object.freeze([endpoint(1), endpoint(2)]);
  const first = { excluded: new Set<string>(), context: new ContextValues() } as unknown as Invocation;
  const circuit = set.get('127.0.0.1:1', config.current.endpoint!);
  for (let i = 0; i < 5; i++) circuit.onResult(clock.now(), circuit.acquire(clock.now()), 1 /* FAILURE */, 0); // one after another (no overlap)
  const ids = () => router.route(list, first).map((e) => e.id);
  t.same(ids(), ['127.0.0.1:2'], 'open: hidden');
  clock.advance(100);
  t.same(ids(), ['127.0.0.1:1'], 'half-open, no probe running: the next call is steered to it');
  const probe = circuit.acquire(clock.now());
  t.same(ids(), ['127.0.0.1:2'], 'a probe running: hidden, though two probe slots are free');
  circuit.onResult(clock.now(), probe, 0 /* SUCCESS */, 1);
  t.same(ids(), ['127.0.0.1:1'], 'the probe succeeded: the next call is steered to it');
  const second = circuit.acquire(clock.now());
  circuit.onResult(clock.now(), second, 2 /* IGNORED: the caller cancelled */, 1);
  t.same(ids(), ['127.0.0.1:1'], 'a cancelled probe frees the endpoint too');
  for (let i = 0; i < 2; i++) {
    const p = circuit.acquire(clock.now());
    t.same(ids(), ['127.0.0.1:2']);
    circuit.onResult(clock.now(), p, 0 /* SUCCESS */, 1);
  }
  t.equal(circuit.state, 'closed', 'three probes in a row succeeded');
  t.equal(router.route(list, first), list);
});

/** An endpoint circuit with the default trip settings on a fake clock at 50 ms. */
function endpointCircuit() {
  const clock = new FakeClock();
  const set = new CircuitSet('default/x', 'endpoint', () => {});
  const config = new BreakerConfig({ coolDownMs: 100 }, undefined);
  const circuit = set.get('127.0.0.1:1', config.current.endpoint!);
  clock.advance(50);
  /** A call that took `latencyMs` ends now with `outcome`. */
  const end = (outcome: Outcome, latencyMs: number) => circuit.onResult(clock.now(), circuit.acquire(clock.now()), outcome, latencyMs);
  /** `n` calls one after another, each sent 3 ms after the one before ended, each failing. */
  const failInTurn = (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(5);
      end(Outcome.FAILURE, 2);
    }
  };
  return { circuit, end, failInTurn };
}

t.test('calls in flight together that fail at once (a dropped connection) count once toward "in a row"', async (t) => {
  const { circuit, end, failInTurn } = endpointCircuit();
  // Eight calls sent 0–7 ms apart, all still in flight when their connection dropped at 50 ms.
  for (let i = 0; i < 8; i++) end(Outcome.FAILURE, 10 + i);
  t.equal(circuit.state, 'closed', 'one event, not 8 failures in a row');
  // Calls sent after that failure, each failing in turn: in a row.
  failInTurn(3);
  t.equal(circuit.state, 'closed', '4 in a row so far');
  failInTurn(1);
  t.equal(circuit.state, 'open', 'the 5th failure in a row opens it');
});

/**
 * One provider, its endpoint circuit tripped by 5 failures and closed again by 3 probes, while one
 * call sent before it tripped is still in flight (parked in the handler); the breaker runs on a
 * skipping clock, so the cool-down passes without sleeping.
 */
async function reopenedWithACallInFlight(t: Test) {
  const { registry, providers: [b] } = await cluster(t, ['b']);
  const clock = new SkippingClock();
  const events: BreakerEvent[] = [];
  const client = new RpcClient({ service: ECHO, registry, plugins: [breaker({ clock, method: false, coolDownMs: 60_000, maxCoolDownMs: 600_000, onStateChange: (e) => events.push(e) })] });
  t.teardown(() => client.close());
  const parked = b!.holdNext();
  const stale = echo(client);
  await parked.reached;
  b!.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 5; i++) t.equal(await echo(client), 'error:UNAVAILABLE');
  t.match(events, [{ to: 'open', reason: '5 calls in a row failed' }]);
  clock.skip(60_000);
  b!.behave('healthy');
  for (let i = 0; i < 3; i++) t.equal(await echo(client), 'b');
  t.same(events.map((e) => e.to), ['open', 'half-open', 'closed'], 'closed again, the parked call still in flight');
  return { b: b!, events, client, release: () => { parked.release(); return stale; } };
}

t.test('a failure of a call sent before the circuit opened does not count toward the next run of failures', async (t) => {
  const { b, events, client, release } = await reopenedWithACallInFlight(t);
  b.behave({ failures: 1, period: 1 });
  t.equal(await release(), 'error:UNAVAILABLE', 'the parked call fails after the circuit closed');
  for (let i = 0; i < 4; i++) await echo(client);
  t.equal(events.length, 3, '4 fresh failures in a row: still closed (the parked call was part of the run that opened it)');
  await echo(client);
  t.match(events.slice(3), [{ key: b.id, from: 'closed', to: 'open', reason: '5 calls in a row failed' }], 'the 5th fresh failure opens it');
});

t.test('a success of a call sent before the circuit opened does not reset the run of failures after it closed', async (t) => {
  const { b, events, client, release } = await reopenedWithACallInFlight(t);
  b.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 4; i++) await echo(client);
  b.behave('healthy');
  t.equal(await release(), 'b', 'the parked call succeeds after 4 fresh failures');
  b.behave({ failures: 1, period: 1 });
  await echo(client);
  t.match(events.slice(3), [{ key: b.id, from: 'closed', to: 'open', reason: '5 calls in a row failed' }], 'the 5th fresh failure opens it');
});

t.test('a failure already counted in a run is not counted again after a success reset that run', async (t) => {
  const { circuit, end, failInTurn } = endpointCircuit();
  // A dropped connection fails two calls in flight (sent at 40 and 45 ms); between their two
  // reports, a call on another connection succeeds.
  end(Outcome.FAILURE, 10);
  end(Outcome.SUCCESS, 3);
  end(Outcome.FAILURE, 5);
  failInTurn(4);
  t.equal(circuit.state, 'closed', '4 failures in a row after the success: the dropped connection was counted before it');
  failInTurn(1);
  t.equal(circuit.state, 'open', 'the 5th opens it');
});
