import t from 'tap';
import type { Endpoint } from '@trellis/core';
import { WarmupDormancy } from '../src/warmup-dormancy.js';

/** Just enough of an Endpoint for the ramp check: an id and a start time. */
const endpoint = (id: string, startedAt: number): Endpoint => ({ id, host: '127.0.0.1', port: 1, weight: 100, version: '', tags: {}, protocol: 'trellis', startedAt }) as Endpoint;

t.test('the warm-up router is on the call path only while some discovered endpoint ramps', async (t) => {
  const switches: boolean[] = [];
  let off: (() => void) | undefined;
  const rampFrom = new Map<string, number>();
  const dormancy = new WarmupDormancy({
    warmupMs: 200,
    rampStart: (e) => Math.max(e.startedAt ?? 0, rampFrom.get(e.id) ?? 0),
    setActive: (active) => {
      switches.push(active);
      if (!active) off?.();
    },
  });
  t.teardown(() => dormancy.close());
  const now = Date.now();
  const old = endpoint('old', now - 60_000);
  dormancy.update([old, endpoint('unknown-start', 0)]);
  t.same(switches, [false], 'nothing ramps: off');

  const ended = new Promise<void>((resolve) => (off = resolve));
  // The dormancy timer is unref'd (it must not keep a client's process alive): hold the loop open.
  const hold = setInterval(() => undefined, 10_000);
  dormancy.update([old, endpoint('new', Date.now())]);
  t.same(switches, [false, true], 'a new endpoint that just started: on');
  await ended; // the timer at the end of its ramp — an event, not a sleep
  clearInterval(hold);
  t.same(switches, [false, true, false], 'its ramp over: off again');

  rampFrom.set('old', Date.now()); // a return from dead starts a ramp; the monitor's change says so
  dormancy.recheck();
  t.same(switches.at(-1), true, 'a recovery: on');
  dormancy.update([endpoint('future', Date.now() + 60_000)]);
  t.same(switches.at(-1), true, 'a start in the future (clock skew) ramps too');
});
