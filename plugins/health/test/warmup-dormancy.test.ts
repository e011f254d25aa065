import t from 'tap';
import type { Endpoint, Invocation } from '@trellis/core';
import { WarmupDormancy } from '../src/warmup-dormancy.js';
import { WARMUP_REFRESH_MS, WarmupRouter } from '../src/warmup.js';

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

t.test('while a ramp runs, the dormancy ticks the router: the weights move as calls flow, with no clock read per call', async (t) => {
  const invocation = {} as Invocation; // the warm-up router does not read it
  const ramp = { warmupMs: 10_000, rampStart: (e: Endpoint) => e.startedAt ?? 0 };
  // Refreshed by the dormancy's tick alone, as the plugin wires it (no timer of the router's own).
  const router = new WarmupRouter({ ...ramp, version: () => 0, refresh: 'expire' });
  let ticked: (() => void) | undefined;
  let ticks = 0;
  const dormancy = new WarmupDormancy({
    ...ramp,
    setActive: () => undefined,
    tick: () => {
      ticks++;
      router.expire();
      ticked?.();
    },
  });
  t.teardown(() => dormancy.close());
  // The timers are unref'd (they must not keep a client's process alive): hold the loop open.
  const hold = setInterval(() => undefined, 10_000);
  t.teardown(() => clearInterval(hold));
  const list = [endpoint('old', Date.now() - 60_000), endpoint('new', Date.now())];
  dormancy.update(list);
  const weight = (): number => router.route(list, invocation)[1]!.weight;
  const first = weight();
  t.ok(first >= 1 && first < 100, `ramping: weight ${first}`);
  // Calls flow between ticks: the same weight (no clock read decides anything) until the next tick.
  const nextTick = (): Promise<void> => new Promise<void>((resolve) => (ticked = resolve));
  const seen = [first];
  let changedBetweenTicks = 0;
  // Four ticks (≈ 1 s) of a 10 s ramp: the ticker runs all along, however late its ticks come.
  while (ticks < 4) {
    const tick = nextTick();
    for (let i = 0; i < 100; i++) if (weight() !== seen.at(-1)) changedBetweenTicks++;
    await tick;
    seen.push(weight());
  }
  t.equal(changedBetweenTicks, 0, 'between two ticks every call gets the same weights');
  t.comment(`weights at each tick: ${seen.join(' ')}`);
  t.ok(seen.some((w, i) => i > 0 && w > seen[i - 1]!), 'the weight grew at a tick');
  for (let i = 1; i < seen.length; i++) t.ok(seen[i]! >= seen[i - 1]!, 'never shrinks while ramping');
});

t.test('one timer: a stream of rechecks does not starve the ticks, and the ramp\'s end puts the router to sleep', async (t) => {
  let ticks = 0;
  let off: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => (off = resolve));
  const switches: boolean[] = [];
  const dormancy = new WarmupDormancy({
    warmupMs: 1_500,
    rampStart: (e) => e.startedAt ?? 0,
    setActive: (active) => {
      switches.push(active);
      if (!active) off?.();
    },
    tick: () => void ticks++,
  });
  t.teardown(() => dormancy.close());
  const list = [endpoint('new', Date.now())];
  dormancy.update(list);
  // Health changes and new lists every 50 ms, far more often than the 250 ms tick.
  const storm = setInterval(() => dormancy.update(list), 50);
  t.teardown(() => clearInterval(storm));
  await ended; // the ramp's end — an event, not a sleep (the storm's interval holds the loop open)
  clearInterval(storm);
  t.ok(ticks >= 1, `ticked while the ramp ran (${ticks} ticks in a 1.5 s ramp, one every ${WARMUP_REFRESH_MS} ms)`);
  t.same([switches[0], switches.at(-1)], [true, false], 'on while ramping, asleep once it ended');
});

t.test('close() stops the ramp\'s timer: no tick after it', async (t) => {
  const ramp = { warmupMs: 60_000, rampStart: (e: Endpoint) => e.startedAt ?? 0, setActive: () => undefined };
  let closedTicks = 0;
  const closed = new WarmupDormancy({ ...ramp, tick: () => void closedTicks++ });
  closed.update([endpoint('new', Date.now())]);
  closed.close();
  // A witness on the same cadence, started after the close: its second tick is the event awaited.
  let witnessTicks = 0;
  let twice: (() => void) | undefined;
  const witnessed = new Promise<void>((resolve) => (twice = resolve));
  const witness = new WarmupDormancy({ ...ramp, tick: () => void (++witnessTicks === 2 && twice?.()) });
  t.teardown(() => witness.close());
  const hold = setInterval(() => undefined, 10_000); // the timers are unref'd: hold the loop open
  t.teardown(() => clearInterval(hold));
  witness.update([endpoint('new', Date.now())]);
  await witnessed;
  t.equal(closedTicks, 0, 'the closed dormancy never ticked, while the witness ticked twice');
});
