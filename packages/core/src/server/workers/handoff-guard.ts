import type { ChildProcess } from 'node:child_process';

/**
 * Closes the connections the primary handed to a worker that died before taking them.
 *
 * Why: with node:cluster's round-robin scheduling (the default but on Windows) the primary accepts
 * every connection and sends its handle to a worker with an internal message; it keeps its own copy
 * of the handle until the worker answers that message, then closes it (or, "not accepted", gives it
 * to another worker). A worker killed between the hand-over and its answer never answers, and Node
 * never closes that copy: the connection stays open in the primary (a file descriptor leaked per
 * such connection), served by no one, and its client waits for its connect timeout instead of
 * seeing a close at once and redialling (docs/reliability.md, scenario 10). No call was sent on such
 * a connection (the client is still waiting for the server's first frame), so closing it loses
 * nothing and cannot make anything run twice.
 *
 * How: it watches this one worker's IPC channel (its own `send`, which node:cluster's primary uses
 * for every message to the worker, and its 'internalMessage' events), remembers each hand-over until
 * the worker's answer for it arrives, and once the channel can carry no more answers (the worker
 * disconnected, or exited and its channel closed) closes every handle still unanswered. A hand-over
 * made after that — to a worker already dead before the primary noticed — is closed as soon as the
 * send returns: whether the write failed (the channel's peer is gone) or sits in a queue no one
 * will read, no worker will ever answer it.
 *
 * This depends on node:cluster's internal message shapes (Node 20, `internal/cluster/
 * round_robin_handle.js` and `utils.js`): the hand-over is `{ cmd: 'NODE_CLUSTER', act: 'newconn',
 * key, seq }` sent with the handle, the answer `{ cmd: 'NODE_CLUSTER', ack: seq, accepted }`. Should a
 * future Node change them, the guard sees no hand-over and does nothing (today's behaviour comes
 * back, nothing breaks); packages/core/test/worker-handoff.test.ts waits for that hand-over message
 * and so fails on such a Node: the upgrade cannot go unnoticed. Everything
 * here is defensive: any other message passes through untouched, and nothing it does throws into
 * node:cluster.
 *
 * Not covered: node:cluster's own `sendHelper` returns without sending (and without closing the
 * handle) when the channel is already marked disconnected; the guard cannot see such a hand-over.
 * node:cluster removes a disconnected worker from its round-robin before the next I/O callback, so
 * no connection reaches that path when a worker dies (see docs/reliability.md, scenario 10).
 */
export function guardHandOvers(child: ChildProcess): void {
  const send = child.send as unknown;
  if (typeof send !== 'function') return; // no IPC channel: nothing is ever handed over
  /** Handles sent and not answered yet, by the hand-over's sequence number. */
  const unanswered = new Map<number, Closable>();
  /** No answer can arrive any more: every hand-over left, and any later one, is closed. */
  let settled = false;

  const observe = (message: unknown, handle: unknown): void => {
    try {
      const handOver = handOverOf(message, handle);
      if (!handOver) return;
      if (settled) closeQuietly(handOver.handle);
      else unanswered.set(handOver.seq, handOver.handle);
    } catch { /* an odd message (a throwing getter): not a hand-over, and never an error for the sender */ }
  };
  (child as { send: unknown }).send = function guardedSend(this: unknown, ...args: unknown[]): unknown {
    try {
      return Reflect.apply(send, this, args);
    } finally {
      // After the send, whatever it did: a send that threw still leaves node:cluster waiting for an answer.
      observe(args[0], args[1]);
    }
  };

  child.on('internalMessage', (message: unknown) => {
    const seq = answeredSeq(message);
    if (seq !== undefined) unanswered.delete(seq); // accepted: node:cluster closes it; not: it gives it to another worker
  });

  const settle = (): void => {
    if (settled) return;
    settled = true;
    for (const handle of unanswered.values()) closeQuietly(handle);
    unanswered.clear();
  };
  // The channel closed: no answer can come. (After a hand-over the worker never acknowledged at the
  // IPC level, Node emits no 'disconnect' for a dead worker; 'close' — exit and channel closed — comes.)
  child.once('disconnect', settle);
  child.once('close', settle);
  child.once('exit', () => {
    // Exited with its channel already read to the end: nothing more can come. With the channel still
    // open, answers the worker wrote before it died may be unread yet, and one read after a close here
    // would have node:cluster act on a closed handle ("not accepted": send it to another worker). So
    // wait for 'close' or 'disconnect', which follow once the end is read; the timer only bounds a
    // channel something else keeps open.
    if (child.channel === null || child.channel === undefined) settle();
    else setTimeout(settle, CHANNEL_END_GRACE_MS).unref();
  });
}

interface Closable {
  close(): void;
}

/** How long after a worker's exit its IPC channel may stay unread before its hand-overs are closed anyway. */
const CHANNEL_END_GRACE_MS = 1000;

/** The hand-over in this message, if it is node:cluster's `newconn` sent with a handle. */
function handOverOf(message: unknown, handle: unknown): { seq: number; handle: Closable } | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as { cmd?: unknown; act?: unknown; seq?: unknown };
  if (m.cmd !== 'NODE_CLUSTER' || m.act !== 'newconn' || typeof m.seq !== 'number') return undefined;
  if (typeof handle !== 'object' || handle === null || typeof (handle as Partial<Closable>).close !== 'function') return undefined;
  return { seq: m.seq, handle: handle as Closable };
}

/** The hand-over this message answers, if it is node:cluster's `{ cmd: 'NODE_CLUSTER', ack }`. */
function answeredSeq(message: unknown): number | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as { cmd?: unknown; ack?: unknown };
  return m.cmd === 'NODE_CLUSTER' && typeof m.ack === 'number' ? m.ack : undefined;
}

function closeQuietly(handle: Closable): void {
  try {
    handle.close(); // a second close of a handle is a no-op in Node; a failure must not reach node:cluster
  } catch { /* nothing to do: the handle is gone either way */ }
}
