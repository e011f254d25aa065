import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { RpcClient } from '../src/index.js';
import { ECHO, waitFor } from './fixtures/json-service.js';
import { forkGroup } from './fixtures/worker-group.js';

// node:cluster's round-robin primary accepts each connection and hands it to a worker; it keeps its
// own copy until the worker answers, and a worker killed before answering never does. The worker
// group closes such connections (src/server/workers/handoff-guard.ts): the client sees a close at
// once and redials, instead of waiting on a connection no one serves (docs/reliability.md, scenario 10).

/** A guard against a hang, not a measure: with the guard the close follows the primary seeing the exit. */
const CLOSE_BOUND_MS = 30_000;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('a connection handed to a worker killed before it took it is closed at once; a replacement serves', async (t) => {
  // Two workers, so the survivor keeps the shared port (with one, the respawn would listen on another).
  const group = forkGroup({ workers: 2, reportHandOvers: true });
  const stopped: number[] = [];
  t.teardown(() => {
    // A stopped worker would outlive its primary (it cannot read the channel's close): end it.
    for (const pid of stopped) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (group.child.exitCode === null) group.child.kill('SIGKILL');
    return group.exited;
  });
  const { started } = await group.next((m) => 'started' in m);
  const pids = (started.workers as { pid: number }[]).map((w) => w.pid);
  // Stopped, neither worker can answer a hand-over; the connection goes to whichever is next.
  for (const pid of pids) {
    stopped.push(pid);
    process.kill(pid, 'SIGSTOP');
  }

  const from = group.messages.length;
  const socket: Socket = connect(started.port, '127.0.0.1');
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  socket.on('error', () => {}); // a reset is as good a close as a FIN here; 'close' follows either way
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  t.teardown(() => socket.destroy());

  // The primary accepted the connection and sent it to a worker (the fixture reports node:cluster's
  // hand-over message; a Node whose message differs fails here, and the guard would see nothing).
  const { handedOver } = await group.next((m) => 'handedOver' in m, from);
  const victim = handedOver.pid as number;
  t.ok(pids.includes(victim), `handed over to worker ${victim}, which cannot answer`);
  process.kill(victim, 'SIGKILL');
  for (const pid of pids) if (pid !== victim) process.kill(pid, 'SIGCONT');

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    closed.then(() => 'closed' as const),
    new Promise<'open'>((resolve) => (timer = setTimeout(resolve, CLOSE_BOUND_MS, 'open'))),
  ]);
  clearTimeout(timer);
  t.equal(outcome, 'closed', 'the primary closed the connection the killed worker never took');
  t.equal(received, 0, 'nothing served it');

  const exit = await group.next((m) => m.event?.type === 'exit', from);
  t.match(exit.event, { planned: false, signal: 'SIGKILL', worker: { pid: victim } }, 'the primary saw the crash');
  const ready = await group.next((m) => m.event?.type === 'ready', from);
  t.notOk(pids.includes(ready.event.worker.pid), 'a replacement worker is ready');

  // The group serves afterwards: calls on new connections, answered by a live worker.
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${started.port}`], timeoutMs: 10_000, tcp: { connectionsPerEndpoint: 2 } });
  t.teardown(() => client.close());
  const answer = (await client.invoke('Echo', { message: 'after' })) as { message: string; servedBy: string };
  t.equal(answer.message, 'after');
  t.not(Number(answer.servedBy), victim, 'served by a live worker');
  const { registered, serving } = await group.command('status');
  t.same({ registered, serving }, { registered: 1, serving: true }, 'the group stayed registered and serving');
});

/** Dead, not yet reaped by its stopped parent: its descriptors (the IPC channel's end) are closed. */
const zombie = (pid: number): boolean => {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test('a connection handed to a worker already dead before the primary noticed is closed too', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const group = forkGroup({ workers: 1, reportHandOvers: true });
  let primaryStopped = false;
  t.teardown(() => {
    if (primaryStopped) group.child.kill('SIGCONT');
    if (group.child.exitCode === null) group.child.kill('SIGKILL');
    return group.exited;
  });
  const { started } = await group.next((m) => 'started' in m);
  const worker = started.workers[0].pid as number;

  // The primary stopped: the connection waits in the listening socket's queue; then the worker dies.
  // On waking, the primary finds the connection ready before the worker's end of the channel and its
  // exit (Linux reports descriptors in the order they became ready), so node:cluster hands the
  // connection to the dead worker: the send fails (the channel's other end is closed) and the
  // primary keeps the handle, waiting for an answer that cannot come.
  group.child.kill('SIGSTOP');
  primaryStopped = true;
  const from = group.messages.length;
  const socket: Socket = connect(started.port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  t.teardown(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', () => resolve())); // in the queue: the kernel completed the handshake
  process.kill(worker, 'SIGKILL');
  await waitFor(() => zombie(worker), 30_000); // no event reaches this process: it is the primary's child
  group.child.kill('SIGCONT');
  primaryStopped = false;

  const { handedOver } = await group.next((m) => 'handedOver' in m, from);
  t.equal(handedOver.pid, worker, 'node:cluster handed the connection to the dead worker');
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    closed.then(() => 'closed' as const),
    new Promise<'open'>((resolve) => (timer = setTimeout(resolve, CLOSE_BOUND_MS, 'open'))),
  ]);
  clearTimeout(timer);
  t.equal(outcome, 'closed', 'the primary closed the connection instead of keeping it');
  const exit = await group.next((m) => m.event?.type === 'exit', from);
  t.match(exit.event, { planned: false, signal: 'SIGKILL' }, 'the primary saw the crash');
});
