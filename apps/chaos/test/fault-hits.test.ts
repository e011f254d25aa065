import t from 'tap';
import { Code } from '@trellis/core';
import { faultHits } from '../src/report.js';
import type { CallRecord } from '../src/traffic.js';
import type { FailedSend } from '../src/send-log.js';

// faultHits tells the calls a fault hit (a send failed on a dropped connection, or never ran; a call
// refused before any send) from calls a slow process answered past the attempt timeout. The worker
// kill test bounds `untilMs`; these records are made up so that each rule is seen to hold.
const FAULT_AT = 1000;
const dropped = (at: number): FailedSend => ({ at, code: Code.UNAVAILABLE, mayHaveRun: true, message: 'connection to x failed: read ECONNRESET' });
const neverRan = (at: number): FailedSend => ({ at, code: Code.UNAVAILABLE, mayHaveRun: false, message: 'connection to x is closed' });
const late = (at: number): FailedSend => ({ at, code: Code.DEADLINE_EXCEEDED, mayHaveRun: true, message: 'deadline exceeded waiting for x' });

function call(at: number, latencyMs: number, failedSends: FailedSend[], failure?: { code: Code; mayHaveRun: boolean; error: string }): CallRecord {
  return {
    at, method: 'Echo', latencyMs, servedBy: failure ? '' : '1', attempt: failure ? 0 : failedSends.length + 1, failedSends,
    ...(failure ? { ok: false, ...failure } : { ok: true, code: Code.OK }),
  };
}

t.test('a send that failed on a dropped connection or never ran is the fault\'s; a late answer is not', async (t) => {
  const hits = faultHits([
    call(990, 30, [dropped(1005)]), // in flight at the fault
    call(1010, 20, [neverRan(1012)]), // sent on a connection already gone
    call(2500, 1500, [late(3500)]), // a loaded machine, later: not the fault's
    call(1020, 10, []),
  ], FAULT_AT);
  t.equal(hits.calls, 2);
  t.equal(hits.inFlight, 1);
  t.equal(hits.untilMs, 12, 'until the last failure the fault caused, not the late answer 2.5 s later');
  t.same(hits.causes, ['connection to x failed: read ECONNRESET', 'connection to x is closed']);
  t.equal(hits.lateOnly, 1);
  t.equal(hits.lateUntilMs, 2500);
});

t.test('failures keep counting however late they come: a dead connection still picked, a circuit left open', async (t) => {
  const deadConnection = faultHits([call(990, 30, [dropped(1005)]), call(4000, 5, [neverRan(4002)])], FAULT_AT);
  t.equal(deadConnection.untilMs, 3002);
  // Refused before any send: no failed send, the call's own failure counts.
  const openCircuit = faultHits([call(5000, 1, [], { code: Code.UNAVAILABLE, mayHaveRun: false, error: 'circuit open' })], FAULT_AT);
  t.equal(openCircuit.calls, 1);
  t.equal(openCircuit.untilMs, 4001);
  // A call that failed on its deadline after answering late everywhere: slow, not hit.
  const slow = faultHits([call(2000, 5000, [late(3000)], { code: Code.DEADLINE_EXCEEDED, mayHaveRun: true, error: 'deadline' })], FAULT_AT);
  t.equal(slow.calls, 0);
  t.equal(slow.untilMs, 0);
});

t.test('failures before the fault are not its own', async (t) => {
  const hits = faultHits([call(500, 600, [dropped(600)])], FAULT_AT);
  t.equal(hits.calls, 0);
  t.equal(hits.untilMs, 0);
});
