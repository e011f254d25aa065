import t from 'tap';
import {
  Code, definePlugin, InterceptorOrder, RpcClient, RpcError, type CallGate, type ClientPluginContext, type Invocation, type Plugin,
  type RetryPolicy,
} from '../src/index.js';
import { withInvocation } from '../src/spi.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

// Client gates that return a promise (`CallGate.beforeCall`): the call, or the attempt, waits for it;
// a rejection fails it; the deadline and the caller's signal still apply while it waits.

interface Reply {
  attempt: number;
  metadata: Record<string, string>;
}

function plugin(setup: (ctx: ClientPluginContext) => void): Plugin {
  return definePlugin({ meta: { name: 'test-waiting-gates', kernel: '^0.1.0' }, setupClient: setup });
}

/** A promise the test settles. */
interface Held {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function held(): Held {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** The holds a gate hands out, in order; `handedOut(i)` resolves with the i-th once it was. */
function holdQueue(make: () => Held = held) {
  const holds: Held[] = [];
  const waiters = new Map<number, (hold: Held) => void>();
  return {
    holds,
    next: (): Held => {
      const hold = make();
      holds.push(hold);
      waiters.get(holds.length - 1)?.(hold);
      return hold;
    },
    handedOut: (i: number): Promise<Held> => (holds[i] !== undefined ? Promise.resolve(holds[i]) : new Promise((resolve) => waiters.set(i, resolve))),
  };
}

/** A gate that logs `name:attempt`, sets `x-name` and waits for the next hold of `queue`. */
function waitingGate(log: string[], name: string, queue: { next(): Held }): CallGate {
  return {
    beforeCall: (inv) => {
      log.push(`${name}:${inv.attempt}`);
      inv.metadata.set(`x-${name}`, String(inv.attempt));
      return queue.next().promise;
    },
  };
}

/** A gate that admits at once, logging `name:attempt`. */
function passingGate(log: string[], name: string): CallGate {
  return { beforeCall: (inv) => void log.push(`${name}:${inv.attempt}`) };
}

/** Retries every failure at once, up to `max` attempts, numbering each attempt's invocation (as retry does). */
function policy(log: string[], max: number): RetryPolicy<{ call: Invocation; attempt: number }> {
  return {
    startCall: (call) => (log.push('start'), { call, attempt: 1 }),
    attempt: (s) => (s.attempt === 1 ? s.call : withInvocation(s.call, { attempt: s.attempt, metadata: new Map(s.call.metadata) })),
    succeeded: (s) => void log.push(`ok:${s.attempt}`),
    failed: (s, error) => {
      log.push(`failed:${s.attempt}:${Code[error.code]}`);
      if (s.attempt >= max) throw error;
      return 0;
    },
    resume: (s) => void s.attempt++,
  };
}

/** An interceptor that logs `name:attempt` when the call reaches it. */
function logging(log: string[], name: string, order: number): Plugin {
  return definePlugin({
    meta: { name: `test-interceptor-${name}`, kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addInterceptor((next) => (inv) => (log.push(`${name}:${inv.attempt}`), next(inv)), order),
  });
}

for (const withChain of [false, true]) {
  const form = withChain ? 'with an interceptor (gates as chain layers)' : 'without interceptors (the kernel runs them)';
  const chainPlugins = (log: string[]): Plugin[] => (withChain ? [logging(log, 'user', InterceptorOrder.USER)] : []);

  t.test(`a gate that waits, then admits: the call goes on when its promise fulfils — ${form}`, async (t) => {
    const { server, address, stats } = await startEchoServer('a');
    const log: string[] = [];
    const queue = holdQueue();
    const ends: Code[] = [];
    const client = new RpcClient({
      service: ECHO, addresses: [address],
      plugins: [plugin((ctx) => {
        ctx.addGate(waitingGate(log, 'waiting', queue), InterceptorOrder.BREAKER);
        ctx.addGate(passingGate(log, 'later'), InterceptorOrder.BREAKER + 1);
        ctx.observe({ callEnd: (call) => void ends.push(call.code) });
      }), ...chainPlugins(log)],
    });
    t.teardown(async () => { await client.close(); await server.close(); });
    const call = client.invoke('Echo', { message: 'hi' }) as Promise<Reply>;
    const hold = await queue.handedOut(0);
    // Let the event loop turn: a call that was not held would be on its way to the server by now.
    await new Promise((resolve) => setImmediate(resolve));
    t.same(log, ['waiting:1'], 'the gates after the waiting one have not run yet');
    t.equal(stats.calls, 0, 'nothing was sent while the gate held the call');
    t.same(ends, [], 'the call has not ended');
    hold.resolve();
    const reply = await call;
    t.equal(reply.metadata['x-waiting'], '1', 'the waiting gate\'s metadata reached the server');
    t.same(log, ['waiting:1', 'later:1', ...(withChain ? ['user:1'] : [])], 'the next gate ran once the first admitted');
    t.equal(stats.calls, 1);
    t.same(ends, [Code.OK]);
  });

  t.test(`a gate that waits, then rejects: the call fails with the rejection, nothing is sent — ${form}`, async (t) => {
    const { server, address, stats } = await startEchoServer('a');
    const log: string[] = [];
    const ends: { code: Code; state: unknown }[] = [];
    const queue = holdQueue();
    const waiting = waitingGate(log, 'waiting', queue);
    const client = new RpcClient({
      service: ECHO, addresses: [address],
      plugins: [plugin((ctx) => {
        ctx.addGate({
          callStart: () => 'permit',
          beforeCall: (inv) => waiting.beforeCall(inv, undefined),
          callEnd: (call, state) => void ends.push({ code: call.code, state }),
        }, InterceptorOrder.BREAKER);
        ctx.addGate(passingGate(log, 'later'), InterceptorOrder.AUTH);
      }), ...chainPlugins(log)],
    });
    t.teardown(async () => { await client.close(); await server.close(); });
    const refused = client.invoke('Echo', {});
    (await queue.handedOut(0)).reject(new RpcError(Code.PERMISSION_DENIED, 'not allowed (test)', { mayHaveRun: false }));
    await t.rejects(refused, { code: Code.PERMISSION_DENIED, message: 'not allowed (test)', mayHaveRun: false }, 'the rejection, as rejected');
    const plain = client.invoke('Echo', {});
    (await queue.handedOut(1)).reject(new Error('a plain error'));
    await t.rejects(plain, { code: Code.UNKNOWN, message: 'a plain error' }, 'a rejection that is not an RpcError, as a throw of it would be');
    t.equal(stats.calls, 0, 'nothing reached the server');
    t.same(log, ['waiting:1', 'waiting:1'], 'the later gate never ran');
    t.same(ends, [{ code: Code.PERMISSION_DENIED, state: 'permit' }, { code: Code.UNKNOWN, state: 'permit' }], 'the gate\'s callEnd saw each refusal, with its state');
  });

  t.test(`the deadline and the caller's signal apply while a gate waits — ${form}`, async (t) => {
    const { server, address, stats } = await startEchoServer('a');
    const log: string[] = [];
    const queue = holdQueue();
    const waiting = waitingGate(log, 'waiting', queue);
    let holding = true;
    const client = new RpcClient({
      service: ECHO, addresses: [address],
      plugins: [plugin((ctx) => {
        ctx.addGate({ beforeCall: (inv) => (holding ? waiting.beforeCall(inv, undefined) : undefined) }, InterceptorOrder.RULES_GATE);
        ctx.addGate(passingGate(log, 'later'), InterceptorOrder.AUTH);
      }), ...chainPlugins(log)],
    });
    t.teardown(async () => { await client.close(); await server.close(); });

    await t.rejects(client.invoke('Echo', {}, { timeoutMs: 150 }), {
      code: Code.DEADLINE_EXCEEDED, mayHaveRun: false, message: 'deadline exceeded while a gate held the call',
    }, 'a gate that never settles: the call ends at its deadline');

    const controller = new AbortController();
    const cancelled = client.invoke('Echo', {}, { signal: controller.signal, timeoutMs: 60_000 });
    await queue.handedOut(1);
    controller.abort();
    await t.rejects(cancelled, { code: Code.CANCELLED, mayHaveRun: false, message: 'call cancelled by the caller while a gate held it' }, 'the caller\'s abort ends the wait');

    // The held promises settle late: the kernel no longer waits for them, nothing is sent for them.
    queue.holds[0]!.resolve();
    queue.holds[1]!.reject(new Error('too late to matter'));
    holding = false;
    const reply = await client.invoke('Echo', {}) as Reply;
    t.equal(reply.attempt, 1);
    t.equal(stats.calls, 1, 'only the last call reached the server (one connection: the server sees calls in order)');
    t.same(log, ['waiting:1', 'waiting:1', 'later:1', ...(withChain ? ['user:1'] : [])], 'the gates after the waiting one ran for the last call only');
  });

  t.test(`a waiting gate before retry holds the call once, one after it each attempt — ${form}`, async (t) => {
    const { server, address, stats } = await startEchoServer('a');
    const log: string[] = [];
    // Every hold admits a turn of the event loop later.
    const admitSoon = (): Held => {
      const hold = held();
      setImmediate(() => hold.resolve());
      return hold;
    };
    const perCall = waitingGate(log, 'per-call', holdQueue(admitSoon));
    const perAttempt = waitingGate(log, 'per-attempt', holdQueue(admitSoon));
    const client = new RpcClient({
      service: ECHO, addresses: [address],
      plugins: [plugin((ctx) => {
        ctx.addGate(perCall, InterceptorOrder.BREAKER);
        ctx.addGate({
          beforeCall: (inv) => {
            const waited = perAttempt.beforeCall(inv, undefined) as Promise<void>;
            if (inv.attempt !== 1) return waited;
            // The first attempt's wait ends in a refusal: the policy judges it as an attempt that failed unsent.
            return waited.then(() => { throw new RpcError(Code.UNAVAILABLE, 'refused after waiting (test)', { mayHaveRun: false }); });
          },
        }, InterceptorOrder.RULES_GATE);
        ctx.setRetryPolicy(policy(log, 3));
      }), ...chainPlugins(log)],
    });
    t.teardown(async () => { await client.close(); await server.close(); });
    const reply = await client.invoke('Echo', {}) as Reply;
    t.equal(reply.attempt, 2, 'the second attempt reached the server');
    t.equal(reply.metadata['x-per-call'], '1', 'the per-call gate ran on the call');
    t.equal(reply.metadata['x-per-attempt'], '2', 'the per-attempt gate ran on the attempt');
    t.equal(stats.calls, 1, 'the refused attempt was never sent');
    t.same(log, [
      'per-call:1', 'start', 'per-attempt:1', 'failed:1:UNAVAILABLE', 'per-attempt:2', ...(withChain ? ['user:2'] : []), 'ok:2',
    ], 'the per-call gate waited once, before the policy started; the per-attempt gate waited before each attempt');
  });
}

t.test('a waiting gate keeps its place among interceptors', async (t) => {
  const { server, address } = await startEchoServer('a');
  const log: string[] = [];
  const queue = holdQueue();
  const client = new RpcClient({
    service: ECHO, addresses: [address],
    plugins: [
      logging(log, 'user', InterceptorOrder.USER),
      plugin((ctx) => {
        ctx.addGate(passingGate(log, 'auth-gate'), InterceptorOrder.AUTH);
        ctx.addGate(waitingGate(log, 'rules-gate', queue), InterceptorOrder.RULES_GATE);
        ctx.addGate(passingGate(log, 'breaker-gate'), InterceptorOrder.BREAKER);
      }),
      logging(log, 'outer', InterceptorOrder.METRICS),
    ],
  });
  t.teardown(async () => { await client.close(); await server.close(); });
  const call = client.invoke('Echo', {});
  const hold = await queue.handedOut(0);
  t.same(log, ['outer:1', 'breaker-gate:1', 'rules-gate:1'], 'the layers above the waiting gate ran, none below it');
  hold.resolve();
  await call;
  t.same(log, ['outer:1', 'breaker-gate:1', 'rules-gate:1', 'auth-gate:1', 'user:1'], 'by order, whatever the registration order');
});
