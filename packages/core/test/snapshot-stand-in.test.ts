import t from 'tap';
import { SnapshotStandIn } from '@trellis/core/spi';

t.test('the snapshot stands in when the live source is silent past the delay', async (t) => {
  const standIn = new SnapshotStandIn();
  // The stand-in's timer is unref'd (it must not keep a process alive): an ordinary timer keeps this
  // test's process alive until it fires, or the test ends unfinished when nothing else is pending.
  const keepAlive = setTimeout(() => undefined, 10_000);
  t.teardown(() => clearTimeout(keepAlive));
  const served = new Promise<string>((resolve) => standIn.arm(5, () => resolve('snapshot')));
  t.equal(await served, 'snapshot');
  t.equal(standIn.live, false);
  t.equal(standIn.liveAnswered(), true, 'the first live answer says so');
  t.equal(standIn.liveAnswered(), false);
  t.equal(standIn.live, true);
});

t.test('never once the live source answered, nor after dispose', async (t) => {
  const answered = new SnapshotStandIn();
  const disposed = new SnapshotStandIn();
  const serves: string[] = [];
  answered.arm(1, () => serves.push('answered'));
  disposed.arm(1, () => serves.push('disposed'));
  answered.liveAnswered();
  disposed.dispose();
  // Timers fire in deadline order: when this later one fires, the two above have had their turn.
  // (A stand-in's own timer is unref'd, so an ordinary timer keeps the test alive.)
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  t.same(serves, []);
});
