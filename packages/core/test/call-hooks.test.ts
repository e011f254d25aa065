import t from 'tap';
import {
  Code, definePlugin, InterceptorOrder, RpcClient, RpcError, type CallEnd, type CallGate, type ClientPluginContext, type Invocation,
  type LoadBalancer, type Plugin, type RetryPolicy,
} from '../src/index.js';
import { withInvocation } from '../src/spi.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

interface Reply {
  servedBy: string;
  attempt: number;
  metadata: Record<string, string>;
}

function plugin(setup: (ctx: ClientPluginContext) => void): Plugin {
  return definePlugin({ meta: { name: 'test-hooks', kernel: '^0.1.0' }, setupClient: setup });
}

/** Records every hook call in `log`, in order. */
function gate(log: string[], name: string, extra: Partial<CallGate<string>> = {}): CallGate<string> {
  return {
    callStart: () => `${name}-state`,
    beforeCall: (inv, state) => {
      log.push(`${name}:${inv.attempt}:${state}`);
      inv.metadata.set(`x-${name}`, String(inv.attempt));
    },
    ...extra,
  };
}

/**
 * A policy that retries every failure after `pauseMs`, up to `max` attempts, with the attempt number
 * in each attempt's invocation (as retry does), recording each hook call.
 */
function policy(log: string[], max: number, pauseMs = 0, onFailed?: () => void): RetryPolicy<{ call: Invocation; attempt: number; cancelled: boolean }> {
  return {
    startCall: (call) => (log.push('start'), { call, attempt: 1, cancelled: false }),
    attempt: (s) => (s.attempt === 1 ? s.call : withInvocation(s.call, { attempt: s.attempt, metadata: new Map(s.call.metadata) })),
    succeeded: (s) => void log.push(`ok:${s.attempt}`),
    failed: (s, error) => {
      log.push(`failed:${s.attempt}:${Code[error.code]}`);
      onFailed?.();
      if (s.attempt >= max) throw new RpcError(error.code, `gave up after ${s.attempt}: ${error.message}`);
      return pauseMs;
    },
    resume: (s, _now, cancelled) => {
      log.push(`resume:${cancelled}`);
      if (cancelled) throw new RpcError(Code.CANCELLED, 'cancelled while waiting');
      s.attempt++;
    },
  };
}

/** A user interceptor below retry (at USER), which makes the kernel compose a chain. */
function userInterceptor(log: string[]): Plugin {
  return definePlugin({
    meta: { name: 'test-user-interceptor', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addInterceptor((next) => (inv) => (log.push(`user:${inv.attempt}`), next(inv)), InterceptorOrder.USER),
  });
}

for (const withChain of [false, true]) {
  const form = withChain ? 'with an interceptor (the hooks as chain layers)' : 'without interceptors (the kernel runs them)';

  t.test(`gates before retry run once per call, after it once per attempt; their metadata reaches the server — ${form}`, async (t) => {
    const { server, address } = await startEchoServer('a');
    const log: string[] = [];
    const plugins = [plugin((ctx) => {
      ctx.addGate(gate(log, 'outer'), InterceptorOrder.BREAKER);
      ctx.addGate(gate(log, 'inner'), InterceptorOrder.AUTH);
      ctx.setRetryPolicy(policy(log, 3));
    })];
    if (withChain) plugins.push(userInterceptor(log));
    const client = new RpcClient({ service: ECHO, addresses: [address], plugins });
    t.teardown(async () => { await client.close(); await server.close(); });
    const reply = await client.invoke('Echo', { message: 'hi' }) as Reply;
    t.equal(reply.metadata['x-outer'], '1', 'the per-call gate set metadata');
    t.equal(reply.metadata['x-inner'], '1', 'the per-attempt gate set metadata');
    const expected = ['outer:1:outer-state', 'start', 'inner:1:inner-state', ...(withChain ? ['user:1'] : []), 'ok:1'];
    t.same(log, expected, 'order: per-call gate, policy start, per-attempt gate, (interceptor), success');
  });

  t.test(`the retry policy sends another attempt after a failure, through the per-attempt gates — ${form}`, async (t) => {
    const { server, address, stats } = await startEchoServer('a');
    const log: string[] = [];
    const ends: { code: Code; latencyMs: number; endedAt: number }[] = [];
    let failFirst = true;
    const plugins = [plugin((ctx) => {
      ctx.addGate(gate(log, 'outer'), InterceptorOrder.BREAKER);
      // Fails the first attempt before it is sent (a refusal with no endpoint), as a gate may.
      ctx.addGate({
        beforeCall: (inv) => {
          if (failFirst && inv.attempt === 1) { failFirst = false; throw new RpcError(Code.UNAVAILABLE, 'refused by the test gate', { mayHaveRun: false }); }
        },
      }, InterceptorOrder.RULES_GATE);
      ctx.setRetryPolicy(policy(log, 3));
      ctx.observe({ callEnd: (call: CallEnd) => void ends.push({ code: call.code, latencyMs: call.latencyMs, endedAt: call.endedAt }) });
    })];
    if (withChain) plugins.push(userInterceptor(log));
    const client = new RpcClient({ service: ECHO, addresses: [address], plugins });
    t.teardown(async () => { await client.close(); await server.close(); });
    const reply = await client.invoke('Echo', { message: 'hi' }) as Reply;
    t.equal(reply.attempt, 2, 'the server got attempt 2');
    t.equal(stats.calls, 1, 'the refused attempt never reached the server');
    t.same(log, [
      'outer:1:outer-state', 'start', 'failed:1:UNAVAILABLE', 'resume:false', ...(withChain ? ['user:2'] : []), 'ok:2',
    ], 'the per-call gate ran once; the policy saw the refusal and resumed');
    t.equal(ends.length, 1, 'one callEnd');
    t.equal(ends[0]!.code, Code.OK);
    t.ok(ends[0]!.endedAt > 0 && ends[0]!.latencyMs >= 0 && ends[0]!.endedAt <= performance.now(), 'CallEnd.endedAt is the kernel\'s end reading');

    // Server failures: every attempt fails, the policy gives up after 3 with its own error.
    log.length = 0;
    await t.rejects(client.invoke('Echo', { failCode: Code.INTERNAL }), { code: Code.INTERNAL, message: /gave up after 3/ });
    t.same(log.filter((l) => l.startsWith('failed')), ['failed:1:INTERNAL', 'failed:2:INTERNAL', 'failed:3:INTERNAL']);
    t.equal(stats.calls, 4, 'three more attempts reached the server');
    t.equal(ends[1]!.code, Code.INTERNAL, 'callEnd saw the error the caller got');
  });

  t.test(`a gate before retry that throws fails the call, nothing is sent — ${form}`, async (t) => {
    const { server, address, stats } = await startEchoServer('a');
    const log: string[] = [];
    const ends: number[] = [];
    const plugins = [plugin((ctx) => {
      ctx.addGate({
        callStart: () => 'held',
        beforeCall: () => { throw new RpcError(Code.UNAVAILABLE, 'circuit open (test)', { mayHaveRun: false }); },
        callEnd: (call, state) => void ends.push(state === 'held' ? call.code : -1),
      }, InterceptorOrder.BREAKER);
      ctx.setRetryPolicy(policy(log, 3));
    })];
    if (withChain) plugins.push(userInterceptor(log));
    const client = new RpcClient({ service: ECHO, addresses: [address], plugins });
    t.teardown(async () => { await client.close(); await server.close(); });
    await t.rejects(client.invoke('Echo', {}), { code: Code.UNAVAILABLE, message: /circuit open \(test\)/, mayHaveRun: false });
    t.equal(stats.calls, 0, 'nothing reached the server');
    t.same(log, [], 'the retry policy never saw the call');
    t.same(ends, [Code.UNAVAILABLE], 'the gate\'s own callEnd got its state and the code');
  });

  t.test(`a caller's abort during the policy's pause ends the call — ${form}`, async (t) => {
    const { server, address } = await startEchoServer('a');
    const log: string[] = [];
    let failedOnce!: () => void;
    const failed = new Promise<void>((resolve) => (failedOnce = resolve));
    const plugins = [plugin((ctx) => ctx.setRetryPolicy(policy(log, 3, 60_000, () => failedOnce())))];
    if (withChain) plugins.push(userInterceptor(log));
    const client = new RpcClient({ service: ECHO, addresses: [address], plugins });
    t.teardown(async () => { await client.close(); await server.close(); });
    const controller = new AbortController();
    const call = client.invoke('Echo', { failCode: Code.UNAVAILABLE }, { signal: controller.signal });
    await failed;
    controller.abort();
    await t.rejects(call, { code: Code.CANCELLED, message: /cancelled while waiting/ });
    t.ok(log.includes('resume:true'), 'resume was told the pause was cut short');
  });
}

t.test('interceptors can take unary calls only or stream calls only', async (t) => {
  const { server, address } = await startEchoServer('a');
  const log: string[] = [];
  const client = new RpcClient({
    service: ECHO, addresses: [address], plugins: [plugin((ctx) => {
      ctx.addInterceptor((next) => (inv) => (log.push('unary-only'), next(inv)), InterceptorOrder.USER, 'unary');
      ctx.addInterceptor((next) => (inv) => (log.push('streams-only'), next(inv)), InterceptorOrder.USER, 'streams');
    })],
  });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', {});
  t.same(log, ['unary-only'], 'a unary call went through the unary interceptor only');
});

t.test('bad hook registrations get coded errors', async (t) => {
  const { server, address } = await startEchoServer('a');
  const noop: RetryPolicy<undefined> = { startCall: () => undefined, attempt: (s) => s!, succeeded() {}, failed: () => 0, resume() {} };
  const twice = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin((ctx) => { ctx.setRetryPolicy(noop); ctx.setRetryPolicy(noop); })] });
  const badGate = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin((ctx) => ctx.addGate({} as never, 1))] });
  const badCalls = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin((ctx) => ctx.addInterceptor((next) => next, 1, 'sometimes' as never))] });
  t.teardown(async () => { await twice.close(); await badGate.close(); await badCalls.close(); await server.close(); });
  await t.rejects(twice.invoke('Echo', {}), { code: 'ERR_PLUGIN_INVALID' }, 'a second retry policy');
  await t.rejects(badGate.invoke('Echo', {}), { code: 'ERR_INVALID_OPTION' }, 'a gate without beforeCall');
  await t.rejects(badCalls.invoke('Echo', {}), { code: 'ERR_INVALID_OPTION' }, 'an unknown `calls`');
});

t.test('the balancer is handed the attempt\'s start reading', async (t) => {
  const { server, address } = await startEchoServer('a');
  const nows: (number | undefined)[] = [];
  const balancer: LoadBalancer = { name: 'first', pick: (list, _inv, now) => (nows.push(now), { endpoint: list[0]!, done() {} }) };
  const client = new RpcClient({ service: ECHO, addresses: [address], loadBalancer: balancer });
  t.teardown(async () => { await client.close(); await server.close(); });
  const before = performance.now();
  await client.invoke('Echo', {});
  t.equal(nows.length, 1);
  t.ok(typeof nows[0] === 'number' && nows[0] >= before && nows[0] <= performance.now(), 'a clock reading of this call');
});
