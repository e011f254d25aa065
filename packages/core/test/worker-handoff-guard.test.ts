import type { ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import t from 'tap';
import { guardHandOvers } from '../src/server/workers/handoff-guard.js';

// The orderings of a worker's end that real processes cannot be made to produce on demand (the
// worker-handoff test covers the ones they do, through the public API): a stand-in for the
// worker's ChildProcess, emitting what Node 20's child_process and node:cluster emit.

class Handle extends EventEmitter {
  closes = 0;
  close(): void {
    this.closes++;
    this.emit('closed');
  }
}

interface StandIn extends EventEmitter {
  channel: object | null;
  send(message: unknown, handle?: unknown): boolean;
  readonly sent: unknown[][];
}

function standIn(): StandIn {
  const child = new EventEmitter() as StandIn;
  child.channel = {};
  (child as { sent: unknown[][] }).sent = [];
  child.send = function (this: StandIn, ...args: unknown[]) {
    this.sent.push(args);
    return true;
  };
  guardHandOvers(child as unknown as ChildProcess);
  return child;
}

const handOver = (seq: number) => ({ cmd: 'NODE_CLUSTER', act: 'newconn', key: '127.0.0.1:0:4:undefined:0', seq });
const ack = (seq: number, accepted: boolean) => ({ cmd: 'NODE_CLUSTER', ack: seq, accepted, seq: 100 + seq });

t.test('an answered hand-over is left to node:cluster; an unanswered one is closed when the channel closes', async (t) => {
  const child = standIn();
  const [taken, refused, lost] = [new Handle(), new Handle(), new Handle()];
  child.send(handOver(1), taken);
  child.send(handOver(2), refused);
  child.send(handOver(3), lost);
  child.emit('internalMessage', ack(1, true));
  child.emit('internalMessage', ack(2, false)); // node:cluster gives it to another worker
  child.channel = null;
  child.emit('exit', null, 'SIGKILL');
  t.same([taken.closes, refused.closes, lost.closes], [0, 0, 1], 'only the unanswered one');
  child.emit('close', null, 'SIGKILL');
  t.equal(lost.closes, 1, 'closed once');
});

t.test('an exit while the channel is still open waits for its end: an answer may still be unread', async (t) => {
  const child = standIn();
  const [answeredLate, lost] = [new Handle(), new Handle()];
  child.send(handOver(1), answeredLate);
  child.send(handOver(2), lost);
  child.emit('exit', null, 'SIGKILL');
  t.same([answeredLate.closes, lost.closes], [0, 0], 'nothing closed at the exit');
  child.emit('internalMessage', ack(1, false)); // read after the exit: node:cluster re-sends that handle elsewhere
  child.channel = null;
  child.emit('close', null, 'SIGKILL');
  t.same([answeredLate.closes, lost.closes], [0, 1], 'the late answer was honoured; the rest closed at the end');
});

t.test('a disconnect settles too, and a hand-over after that is closed once the send returns', async (t) => {
  const child = standIn();
  const before = new Handle();
  child.send(handOver(1), before);
  child.channel = null;
  child.emit('disconnect');
  t.equal(before.closes, 1);
  const after = new Handle();
  child.send(handOver(2), after);
  t.equal(after.closes, 1, 'no worker will answer it');
  t.equal(child.sent.length, 2, 'both were still passed to the real send');
});

t.test('an exit whose channel never ends: the hand-overs are closed after a grace period', async (t) => {
  const child = standIn();
  const lost = new Handle();
  child.send(handOver(1), lost);
  child.emit('exit', null, 'SIGKILL');
  t.equal(lost.closes, 0);
  // The guard's timer is unref'd (it must not keep a primary alive): this test holds the loop open
  // while it waits; the hold only bounds a broken test.
  const hold = setTimeout(() => lost.emit('closed'), 30_000);
  await once(lost, 'closed');
  clearTimeout(hold);
  t.equal(lost.closes, 1, 'closed by the guard');
});

t.test('anything else passes through untouched, and odd messages never throw into the sender', async (t) => {
  const child = standIn();
  const handle = new Handle();
  const others: unknown[][] = [
    [{ trellis: 'worker-drain', graceMs: 1, handOver: true }],
    [{ cmd: 'NODE_CLUSTER', act: 'newconn', seq: 'x' }, handle], // not the shape: no number seq
    [{ cmd: 'NODE_CLUSTER', act: 'newconn', seq: 4 }, { notAHandle: true }],
    ['a string', undefined],
    [null],
    [new Proxy({}, { get() { throw new Error('a getter that throws'); } })],
  ];
  for (const args of others) t.equal(child.send(...(args as [unknown, unknown])), true, 'the real send\'s result');
  t.equal(child.sent.length, others.length);
  for (let i = 0; i < others.length; i++) t.equal(child.sent[i]![0], others[i]![0], `message ${i} passed as is`);
  t.doesNotThrow(() => child.emit('internalMessage', null));
  t.doesNotThrow(() => child.emit('internalMessage', { cmd: 'NODE_CLUSTER', ack: 'x' }));
  child.channel = null;
  child.emit('exit', 0, null);
  t.equal(handle.closes, 0, 'what was not a hand-over is never closed');
});

t.test('a send that throws still leaves the handle guarded (node:cluster waits for an answer anyway)', async (t) => {
  const child = standIn();
  child.send = () => { throw new Error('write failed'); };
  // Re-guard the throwing send (the guard wraps whatever send the child has when it is installed).
  guardHandOvers(child as unknown as ChildProcess);
  const handle = new Handle();
  t.throws(() => child.send(handOver(1), handle), /write failed/, 'the error reaches the caller as before');
  child.channel = null;
  child.emit('exit', null, 'SIGKILL');
  t.equal(handle.closes, 1);
});
