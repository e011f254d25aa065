import t, { type Test } from 'tap';
import { RpcClient, type RpcError } from '@trellis/core';
import { loadEchoService, startProvider, waitFor } from '@trellis/testkit';
import { health, type HealthOptions, type HeartbeatEvent } from '../src/index.js';
import { busyWait, callMany, recordChanges } from './fixtures/helpers.js';

// Strict on purpose: one failed heartbeat, or 10 % failed calls, would make an endpoint sub-healthy.
// The PING timeout (1.5 s) is still shorter than the 2 s stall, so the PINGs sent before it run out
// of time in it; outside the stall, a PONG from a provider process starved by a loaded machine (a
// second is possible on a loaded CI machine) is not taken for a failure.
const strict: HealthOptions = {
  intervalMs: 100, timeoutMs: 1500, failureThreshold: 1, warmupMs: 0,
  availability: { windowMs: 20_000, minCalls: 5, threshold: 0.9 },
};

t.test('a consumer blocked by its own busy loop', async (t) => {
  const providers = await Promise.all(['a', 'b'].map((name) => startProvider({ name })));
  t.teardown(() => Promise.all(providers.map((p) => p.stop())));

  /**
   * Starts heartbeats and calls, then blocks the loop for 2 s from a setImmediate callback: the next
   * loop turn runs the overdue timers (PING timeouts, call deadlines) before it reads the sockets
   * where the PONGs and replies have been waiting, exactly as in a busy production process.
   */
  async function blockWhileBusy(t: Test, options: HealthOptions) {
    const plugin = health(options);
    const client = new RpcClient({ service: loadEchoService(), addresses: providers.map((p) => p.address), plugins: [plugin] });
    t.teardown(() => client.close());
    const warm = await callMany(client, 10);
    t.same(warm.errors, []);
    const changes = recordChanges(plugin);
    const beats: HeartbeatEvent[] = [];
    plugin.healthEvents.on('heartbeat', (beat) => beats.push(beat));

    const inflight = Array.from({ length: 10 }, () =>
      client.invoke('Echo', { delayMs: 200 }, { timeoutMs: 1000 }).then(() => undefined, (e: RpcError) => e));
    plugin.checkNow();
    await new Promise<void>((resolve) => setImmediate(() => {
      busyWait(2000);
      resolve();
    }));
    const outcomes = await Promise.all(inflight);
    t.ok(outcomes.every((o) => o?.code === 4), 'the calls in flight ran out of time while the loop was blocked');
    // Let a few rounds of heartbeats run after the stall, so a late flip would be seen too.
    const after = beats.length;
    await waitFor(() => beats.slice(after).filter((b) => b.ok).length >= 6, { what: 'heartbeats after the stall' });
    return { changes, beats, plugin };
  }

  t.test('does not mark its endpoints sub-healthy', async (t) => {
    const { changes, beats, plugin } = await blockWhileBusy(t, strict);
    t.same(changes.map((c) => `${c.endpoint.id} ${c.from}→${c.to}`), [], 'no state changed');
    t.same(plugin.states().map((s) => s.state), ['healthy', 'healthy']);
    t.same(plugin.states().map((s) => s.availability), [{ calls: 5, successes: 5 }, { calls: 5, successes: 5 }],
      'the timed-out calls were not counted');
    t.ok(beats.some((b) => !b.ok && b.discounted), 'a heartbeat failed during the stall and was discounted');
  });

  t.test('would have, without stall detection (the control)', async (t) => {
    const { changes, beats } = await blockWhileBusy(t, { ...strict, loopStall: false });
    const flipped = new Set(changes.filter((c) => c.to === 'subhealthy').map((c) => c.endpoint.id));
    t.equal(flipped.size, 2, `both endpoints were marked sub-healthy (${changes.map((c) => c.reason).join('; ')})`);
    t.notOk(beats.some((b) => b.discounted), 'nothing was discounted');
  });
});
