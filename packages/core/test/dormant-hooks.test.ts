import t from 'tap';
import {
  Code, definePlugin, ErrorCodes, InterceptorOrder, RpcClient, RpcError, type CallGate, type CallObserver, type ClientPluginContext, type Router,
} from '../src/index.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

/**
 * ClientPluginContext.setHookActive: a dormant observer, router or gate is left out of the call path
 * until its plugin switches it back on; a flip applies from the next call, and a call keeps the
 * observers and gates that were active when it started.
 */

/** A plugin that hands its context out, so a test flips switches the way a plugin's own events would. */
function contextOf(setup: (ctx: ClientPluginContext) => void) {
  const box: { ctx?: ClientPluginContext } = {};
  const plugin = definePlugin({
    meta: { name: 'test-dormant', kernel: '^0.1.0' },
    setupClient: (ctx) => {
      box.ctx = ctx;
      setup(ctx);
    },
  });
  return { plugin, ctx: () => box.ctx! };
}

/** Records every hook it gets as `hook:call-number`; the call number comes from its callStart. */
function numbering(log: string[]): CallObserver<number> {
  let calls = 0;
  return {
    callStart: () => {
      log.push(`callStart:${++calls}`);
      return calls;
    },
    attemptStart: (_attempt, n) => void log.push(`attemptStart:${n}`),
    attemptEnd: (_attempt, n) => void log.push(`attemptEnd:${n}`),
    callEnd: (_end, n) => void log.push(`callEnd:${n}`),
  };
}

t.test('a dormant observer gets no hook; switched on, it sees the next call whole', async (t) => {
  const { server, address } = await startEchoServer('a');
  const log: string[] = [];
  const observer = numbering(log);
  const { plugin, ctx } = contextOf((c) => {
    c.observe(observer);
    c.setHookActive(observer, false); // dormant from the start
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', { message: 'one' });
  t.same(log, [], 'no hook while dormant');
  ctx().setHookActive(observer, true);
  await client.invoke('Echo', { message: 'two' });
  t.same(log, ['callStart:1', 'attemptStart:1', 'attemptEnd:1', 'callEnd:1'], 'every hook of the next call, with its state');
  ctx().setHookActive(observer, false);
  await client.invoke('Echo', { message: 'three' });
  t.equal(log.length, 4, 'dormant again: nothing more');
});

t.test('a call keeps the observers active when it started, whatever flips while it runs', async (t) => {
  const { server, address } = await startEchoServer('a');
  const log: string[] = [];
  const late = numbering(log);
  let flipper: ClientPluginContext | undefined;
  // Its callStart flips both observers: itself off, `late` on — while the call is running.
  const switcher: CallObserver = {
    callStart: () => {
      log.push('switcher:callStart');
      flipper!.setHookActive(switcher, false);
      flipper!.setHookActive(late, true);
      return undefined;
    },
    attemptEnd: () => void log.push('switcher:attemptEnd'),
    callEnd: () => void log.push('switcher:callEnd'),
  };
  const { plugin } = contextOf((c) => {
    flipper = c;
    c.observe(switcher);
    c.observe(late);
    c.setHookActive(late, false);
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', { message: 'one' });
  t.same(log, ['switcher:callStart', 'switcher:attemptEnd', 'switcher:callEnd'], 'the first call: the switcher to its end, nothing of `late`');
  log.length = 0;
  await client.invoke('Echo', { message: 'two' });
  t.same(log, ['callStart:1', 'attemptStart:1', 'attemptEnd:1', 'callEnd:1'], 'the next call: `late` whole, the switcher not at all');
});

t.test('a dormant router does not route; switched on, it routes from the next call', async (t) => {
  const { server, address } = await startEchoServer('a');
  let routed = 0;
  const refuseAll: Router = { name: 'refuse-all', order: 250, route: () => (routed++, []) };
  const { plugin, ctx } = contextOf((c) => c.addRouter(refuseAll));
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await t.rejects(client.invoke('Echo', {}), { code: Code.UNAVAILABLE, message: /refuse-all router left none/ }, 'active at first');
  ctx().setHookActive(refuseAll, false);
  const before = routed;
  t.match(await client.invoke('Echo', { message: 'x' }), { servedBy: 'a' }, 'dormant: the call goes through');
  t.equal(routed, before, 'and the router was not called');
  ctx().setHookActive(refuseAll, true);
  await t.rejects(client.invoke('Echo', {}), { code: Code.UNAVAILABLE, message: /refuse-all router left none/ }, 'active again from the next call');
});

t.test('setHookActive refuses a hook this client does not know and an active that is not a boolean', async (t) => {
  const observer: CallObserver = { callEnd: () => undefined };
  const { plugin, ctx } = contextOf((c) => c.observe(observer));
  const client = new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], plugins: [plugin] });
  t.teardown(() => client.close());
  await client.start();
  t.throws(() => ctx().setHookActive({ callEnd: () => undefined }, false), { code: ErrorCodes.INVALID_OPTION, message: /setHookActive hook/ });
  t.throws(() => ctx().setHookActive(observer, 'no' as unknown as boolean), { code: ErrorCodes.INVALID_OPTION, message: /setHookActive active/ });
  t.throws(() => ctx().addRouter({ name: 'broken', order: 1 } as unknown as Router), { code: ErrorCodes.INVALID_OPTION, message: /addRouter router/ });
});

/** A gate that refuses every call it is asked about (and counts them), with an observer part that logs. */
function refusingGate(log: string[]): CallGate {
  return {
    beforeCall: () => {
      log.push('beforeCall');
      throw new RpcError(Code.UNAVAILABLE, 'closed by the test gate', { mayHaveRun: false });
    },
    callEnd: () => void log.push('callEnd'),
  };
}

for (const [where, order] of [['before retry (once per call)', InterceptorOrder.BREAKER], ['after retry (before each attempt)', InterceptorOrder.RULES_GATE]] as const) {
  t.test(`a dormant gate ${where} is not asked, nor its observer part; switched on, it gates from the next call`, async (t) => {
    const { server, address } = await startEchoServer('a');
    const log: string[] = [];
    const gate = refusingGate(log);
    const { plugin, ctx } = contextOf((c) => c.addGate(gate, order));
    const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
    t.teardown(async () => { await client.close(); await server.close(); });
    await t.rejects(client.invoke('Echo', {}), { code: Code.UNAVAILABLE, message: /closed by the test gate/ }, 'active at first');
    t.same(log, ['beforeCall', 'callEnd']);
    log.length = 0;
    ctx().setHookActive(gate, false);
    t.match(await client.invoke('Echo', { message: 'x' }), { servedBy: 'a' }, 'dormant: the call goes through');
    t.same(log, [], 'neither beforeCall nor callEnd ran');
    ctx().setHookActive(gate, true);
    await t.rejects(client.invoke('Echo', {}), { code: Code.UNAVAILABLE, message: /closed by the test gate/ }, 'awake again from the next call');
    t.same(log, ['beforeCall', 'callEnd']);
  });
}

t.test('a gate dormant from set-up is skipped in an interceptor chain too, and woken there', async (t) => {
  const { server, address } = await startEchoServer('a');
  const log: string[] = [];
  const gate = refusingGate(log);
  const { plugin, ctx } = contextOf((c) => {
    // An interceptor for unary calls: the gates become layers of the chain.
    c.addInterceptor((next) => (inv) => (log.push('interceptor'), next(inv)), InterceptorOrder.USER);
    c.addGate(gate, InterceptorOrder.BREAKER);
    c.setHookActive(gate, false);
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  t.match(await client.invoke('Echo', { message: 'x' }), { servedBy: 'a' }, 'dormant: the call goes through');
  t.same(log, ['interceptor'], 'the gate layer passed the call on without asking the gate');
  log.length = 0;
  ctx().setHookActive(gate, true);
  await t.rejects(client.invoke('Echo', {}), { code: Code.UNAVAILABLE, message: /closed by the test gate/ }, 'woken: it gates');
  t.same(log, ['beforeCall', 'callEnd'], 'the gate refused before the interceptor below it');
});

t.test('a call waiting at a gate that goes dormant keeps waiting for it; the next call does not wait', async (t) => {
  const { server, address } = await startEchoServer('a');
  const log: string[] = [];
  let release!: () => void;
  const hold = new Promise<void>((resolve) => (release = resolve));
  let asked!: () => void;
  const wasAsked = new Promise<void>((resolve) => (asked = resolve));
  const gate: CallGate = {
    beforeCall: () => {
      log.push('beforeCall');
      asked();
      return hold;
    },
  };
  const { plugin, ctx } = contextOf((c) => c.addGate(gate, InterceptorOrder.RULES_GATE));
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  let firstDone = false;
  const first = client.invoke('Echo', { message: 'held' }).finally(() => (firstDone = true));
  await wasAsked;
  ctx().setHookActive(gate, false); // what the rules gate does when its documents arrive
  t.match(await client.invoke('Echo', { message: 'next' }), { servedBy: 'a' }, 'a call after the switch goes through at once');
  t.equal(firstDone, false, 'the held call is still waiting for the gate it started with');
  release();
  t.match(await first, { servedBy: 'a' }, 'and goes on once the gate admits it');
  t.same(log, ['beforeCall'], 'the gate was asked by the held call only');
});

t.test('a call waiting at a gate that goes dormant still ends at its deadline', async (t) => {
  const { server, address } = await startEchoServer('a');
  const gate: CallGate = { beforeCall: () => new Promise<void>(() => undefined) }; // never admits
  const { plugin, ctx } = contextOf((c) => c.addGate(gate, InterceptorOrder.BREAKER));
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.start();
  const held = client.invoke('Echo', {}, { timeoutMs: 200 });
  ctx().setHookActive(gate, false);
  await t.rejects(held, { code: Code.DEADLINE_EXCEEDED, message: /while a gate held the call/ }, 'the held call is timed out as before');
  t.match(await client.invoke('Echo', { message: 'x' }), { servedBy: 'a' }, 'the next call is not held');
});
