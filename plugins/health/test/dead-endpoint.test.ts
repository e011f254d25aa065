import t from 'tap';
import { RpcClient } from '@trellis/core';
import { loadEchoService, refusingPort, startProvider, waitFor } from '@trellis/testkit';
import { health, type HealthMonitor, type HeartbeatEvent } from '../src/index.js';
import { callMany, recordChanges, untilState } from './fixtures/helpers.js';

t.test('a killed provider is dead, redialled with growing intervals, and healthy again once restarted on its port', async (t) => {
  const [first, other] = await Promise.all([startProvider({ name: 'first' }), startProvider({ name: 'other' })]);
  t.teardown(() => Promise.all([first.stop(), other.stop()]));
  const backoff = { initialMs: 100, maxMs: 1600 };
  // Round robin ignores weights, so the warm-up ramp after the return from dead does not skew the counts.
  const plugin = health({ intervalMs: 200, timeoutMs: 500, redial: backoff, availability: false, warmupMs: 60_000 });
  const changes = recordChanges(plugin);
  const client = new RpcClient({
    service: loadEchoService(), addresses: [first.address, other.address], plugins: [plugin], tcp: { backoff },
  });
  t.teardown(() => client.close());
  await client.start();
  const warm = await callMany(client, 10);
  t.same([...warm.servedBy.keys()].sort(), ['first', 'other']);

  // The plugin's redial probes of a dead endpoint, as its diagnostic events report them.
  const probes: HeartbeatEvent[] = [];
  plugin.healthEvents.on('heartbeat', (event) => {
    if (event.endpoint.id === first.address && event.kind === 'probe') probes.push(event);
  });

  await first.kill('SIGKILL');
  // Its port held at once, refused, for the restart below on the same address: freed for the seconds
  // of probing, any process could take it (the restart would fail with EADDRINUSE, a probe succeed).
  const held = await refusingPort({ port: first.port });
  t.teardown(() => held.close());
  await untilState(plugin, first.address, 'dead');
  const death = changes.find((c) => c.endpoint.id === first.address && c.to === 'dead')!;
  t.equal(death.from, 'healthy');
  t.match(death.reason, /127\.0\.0\.1/, `the reason names the connection problem (${death.reason})`);
  const meanwhile = await callMany(client, 20);
  t.same(meanwhile.errors, [], 'calls go on without the dead provider');
  t.same([...meanwhile.servedBy.keys()], ['other']);

  await waitFor(() => probes.length >= 4, { timeoutMs: 20_000, what: 'four probes of the dead provider' });
  const [p0, p1, p2, p3] = probes as [HeartbeatEvent, HeartbeatEvent, HeartbeatEvent, HeartbeatEvent];
  const delays = [p0, p1, p2, p3].map((p) => p.delayMs!);
  t.ok(delays[0]! < delays[1]! && delays[1]! < delays[2]! && delays[2]! < delays[3]!, `probe delays grow: ${delays.join(', ')} ms`);
  // Each probe is scheduled once the one before it has ended (and reported), after its own delay: so
  // the gap to the one before is at least that delay, whatever a loaded machine adds on top (a stall
  // only lengthens a gap). With the delays growing (checked above), the probes are further and further
  // apart. Comparing two measured gaps with each other instead hinged on the machine: a 400 ms stall
  // in the first gap (delays ~400 then ~800 ms) inverted them. A monitor that reported growing delays
  // but probed on a fixed beat would still fail here (a 200 ms gap against an ~800 ms delay).
  // (2 ms: Node rounds a timer's deadline to the millisecond, and Date.now() truncates.)
  const gaps = [p1.at - p0.at, p2.at - p1.at, p3.at - p2.at];
  t.ok(gaps.every((gap, i) => gap >= delays[i + 1]! - 2), `probes are further and further apart: gaps ${gaps.join(', ')} ms, each at least its probe's delay`);
  t.ok(probes.every((p) => !p.ok), 'no probe of a dead provider succeeded');
  t.match(p3.error, /ECONNREFUSED/, 'the transport redials meanwhile: the last dial was refused');

  const again = await startProvider({ name: 'first-again', port: first.port }); // taken back while held
  t.teardown(() => again.stop());
  await held.close();
  await untilState(plugin, first.address, 'healthy');
  const revival = changes.filter((c) => c.endpoint.id === first.address).at(-1)!;
  t.same([revival.from, revival.to], ['dead', 'healthy']);
  const monitor = client.healthView as HealthMonitor;
  const endpoint = client.endpoints.find((e) => e.id === first.address)!;
  t.equal(monitor.rampStart(endpoint), revival.at, 'its warm-up ramp starts over from the recovery, like a new provider\'s');
  t.equal(monitor.rampStart(client.endpoints.find((e) => e.id === other.address)!), 0, 'the other one never ramped');
  const after = await callMany(client, 20);
  t.same(after.errors, []);
  t.ok((after.servedBy.get('first-again') ?? 0) > 0, `the restarted provider gets calls (${JSON.stringify([...after.servedBy])})`);
});
