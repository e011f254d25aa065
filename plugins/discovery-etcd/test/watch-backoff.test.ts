import t from 'tap';
import { watchBackoff } from '../src/etcd-client.js';

// etcd3 reads `duration` and then calls `next()` once per 'error' and once per 'end' of a broken watch
// stream, arming a reconnect timer each time; see watchBackoff.
t.test("one broken stream gets one delay, however many times etcd3 asks; the next failure a longer one", async (t) => {
  const broke = new Error('the watch stream broke');
  const initial = watchBackoff({ initialMs: 200, multiplier: 2, maxMs: 10_000, jitter: 0 });
  // After an answer etcd3 takes initial.next(broke): the first step.
  let current = initial.next(broke);
  const first = [current.duration];
  current = current.next(broke);
  first.push(current.duration);
  t.same(first, [200, 200], "both timers of the first failure wait the same 200 ms");

  await new Promise((resolve) => setTimeout(resolve, 80));
  const second = [current.duration];
  current = current.next(broke);
  second.push(current.duration);
  t.same(second, [400, 400], 'the next failure waits longer, again once');

  t.equal(initial.next(broke).duration, 200, 'an answer from etcd starts over');
});
