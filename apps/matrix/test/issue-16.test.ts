import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError } from '@trellis/core';
import { breaker, type BreakerEvent } from '@trellis/breaker';
import { retry, retryStopReason } from '@trellis/retry';
import { loadEchoService, startFaultyProvider, type FaultyProvider } from '@trellis/testkit';

// The two combination defects of issue #16 as a new user met them, end to end over loopback with
// every plugin on its defaults.

type Echo = { echo(request: object): Promise<{ servedBy: string }> };

async function providers(t: { teardown(fn: () => unknown): void }, registry: MemoryRegistry): Promise<[FaultyProvider, FaultyProvider]> {
  const healthy = await startFaultyProvider({ name: 'healthy', registry, latencyMs: 0 });
  const sick = await startFaultyProvider({ name: 'sick', registry, latencyMs: 0 });
  t.teardown(() => Promise.all([healthy.close(), sick.close()]));
  return [healthy, sick];
}

t.test('round-robin + retry() + breaker(), one of two providers failing every call: the calls succeed', async (t) => {
  // Defect 1: 14 of 300 succeeded. Retry's re-pick skewed round robin onto the sick provider, the
  // method's circuit opened at 10 of 20 attempts and its probes landed on the sick provider again,
  // and the sick provider's own circuit stayed closed at 13 of 13 failures (below minCalls).
  const registry = new MemoryRegistry();
  const [healthy, sick] = await providers(t, registry);
  sick.setFault('failing');
  const events: BreakerEvent[] = [];
  const plugin = breaker({ onStateChange: (e) => events.push(e) });
  const client = new RpcClient({ service: loadEchoService(), registry, plugins: [retry(), plugin] });
  t.teardown(() => client.close());
  const echo = client.stub<Echo>().echo;
  let succeeded = 0;
  const errors: string[] = [];
  for (let i = 0; i < 300; i++) {
    try {
      await echo({ message: String(i) });
      succeeded++;
    } catch (error) {
      errors.push(String(error));
    }
  }
  t.ok(succeeded >= 297, `${succeeded} of 300 calls succeeded (${errors.slice(0, 2).join(' | ')})`);
  t.equal(healthy.stats.handled, succeeded, 'every success came from the healthy provider');
  const opened = events.filter((e) => e.to === 'open');
  t.match(opened[0], { kind: 'endpoint', key: `127.0.0.1:${sick.server.port}`, reason: '5 calls in a row failed' }, 'the sick provider\'s own circuit opened');
  t.notOk(events.some((e) => e.kind === 'method' && e.to === 'open'), 'the method\'s circuit never opened');
  t.ok(sick.stats.handled < 30, `the sick provider got ${sick.stats.handled} calls: the ones that tripped it, then a probe per cool-down`);
});

t.test('a retry whose untried provider has an open circuit says so, naming it', async (t) => {
  // Defect 2: the error said "every endpoint able to serve …/GetItem already failed this call"
  // (retryStopReason no-endpoint-left) though the healthy provider had never been tried; the open
  // circuit that kept it out was not named.
  const registry = new MemoryRegistry();
  const [first, second] = await providers(t, registry);
  const client = new RpcClient({ service: loadEchoService(), registry, plugins: [retry(), breaker({ coolDownMs: 60_000, maxCoolDownMs: 60_000 })] });
  t.teardown(() => client.close());
  const echo = client.stub<Echo>().echo;
  second.setFault('failing');
  // Retry saves each call the second provider fails, until its circuit opens (5 in a row).
  for (let i = 0; i < 10; i++) await echo({});
  const handledBefore = second.stats.handled;
  t.equal(handledBefore, 5, 'the second provider tripped after 5 failures');
  first.setFault('failing');
  second.setFault('none');
  const error = (await echo({}).catch((e: unknown) => e)) as RpcError;
  t.equal(retryStopReason(error), 'refused');
  t.equal(error.code, Code.UNKNOWN, 'the first attempt\'s real failure');
  t.match(error.message, new RegExp(
    `^healthy: its database is down \\(not retried: attempt 2 found no endpoint to send to: circuit open for every provider this call has not tried yet of default/trellis\\.test\\.EchoService: 127\\.0\\.0\\.1:${second.server.port} \\(open, half-open in \\d+(\\.\\d)? s\\)\\)$`,
  ));
  t.equal(second.stats.handled, handledBefore, 'the open provider got no call');
});
