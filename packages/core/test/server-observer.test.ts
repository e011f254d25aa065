import t from 'tap';
import {
  Code, createContextKey, definePlugin, RpcClient, RpcError, RpcServer, ServerInterceptorOrder,
  type Plugin, type ServerCallEnd, type ServerCallObserver, type ServerGate, type ServerPluginContext,
} from '../src/index.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

/** What a hook saw at a call's end, copied out (the kernel's record is valid only during the callback). */
interface Ended {
  method: string;
  code: Code;
  error: unknown;
  latencyMs: number;
  startedAt: number;
  state: unknown;
}

const copy = (end: ServerCallEnd, state: unknown): Ended => ({
  method: end.invocation.method.name, code: end.code, error: end.error, latencyMs: end.latencyMs, startedAt: end.startedAt, state,
});

function serverPlugin(name: string, setup: (ctx: ServerPluginContext) => void): Plugin {
  return definePlugin({ meta: { name, kernel: '^0.1.0' }, setupServer: setup });
}

async function rig(t: { teardown(fn: () => unknown): void }, plugins: Plugin[]) {
  const { server, stats, address } = await startEchoServer('a', { plugins });
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  await client.start();
  t.teardown(async () => {
    await client.close();
    await server.close({ graceMs: 0 });
  });
  return { client, stats };
}

t.test('an observer sees every call start and end with the kernel’s code, start and latency, and keeps its state', async (t) => {
  const starts: { method: string; startedAt: number }[] = [];
  const ends: Ended[] = [];
  const observer: ServerCallObserver<string> = {
    callStart: (call, startedAt) => {
      starts.push({ method: call.method.name, startedAt });
      return `state of ${call.method.name}`;
    },
    callEnd: (end, state) => ends.push(copy(end, state)),
  };
  const { client } = await rig(t, [serverPlugin('observer', (ctx) => ctx.observe(observer))]);

  t.match(await client.invoke('Echo', { message: 'hi' }), { message: 'hi' });
  t.equal(ends.length, 1, 'counted before the answer left: the caller sees it at once');
  t.match(ends[0], { method: 'Echo', code: Code.OK, error: undefined, state: 'state of Echo' });
  t.equal(ends[0]!.startedAt, starts[0]!.startedAt, 'callEnd gets the start callStart got');
  t.ok(ends[0]!.latencyMs >= 0);

  await t.rejects(client.invoke('Echo', { failCode: Code.NOT_FOUND }), { code: Code.NOT_FOUND });
  t.match(ends[1], { method: 'Echo', code: Code.NOT_FOUND, state: 'state of Echo' });
  t.ok(ends[1]!.error instanceof RpcError, 'the error as the handler threw it');

  // A deadline the request surely reaches the server within (a loaded machine), and a handler that
  // would wait far longer: the server's deadline stops it.
  await t.rejects(client.invoke('Echo', { delayMs: 60_000 }, { timeoutMs: 1_000 }), { code: Code.DEADLINE_EXCEEDED });
  await waitUntil(() => ends.length === 3);
  // The server's deadline or the client's cancel at its deadline, whichever reached the handler first.
  t.ok([Code.DEADLINE_EXCEEDED, Code.CANCELLED].includes(ends[2]!.code), `a call the deadline stopped ends with the handler’s outcome (${Code[ends[2]!.code]})`);
  t.ok(ends[2]!.latencyMs >= 0);
});

t.test('a handler’s plain Error ends as UNKNOWN, with the error as thrown (before redaction)', async (t) => {
  const ends: Ended[] = [];
  const server = new RpcServer({
    host: '127.0.0.1',
    redactErrors: true,
    onError: () => undefined,
    plugins: [serverPlugin('observer', (ctx) => ctx.observe({ callEnd: (end, state) => ends.push(copy(end, state)) }))],
  });
  server.addService(ECHO, {
    echo() {
      throw new Error('secret internals');
    },
    mutate: () => ({}),
  });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  await client.start();
  t.teardown(async () => {
    await client.close();
    await server.close({ graceMs: 0 });
  });
  await t.rejects(client.invoke('Echo', {}), { code: Code.UNKNOWN, message: /internal error/ });
  t.match(ends[0], { method: 'Echo', code: Code.UNKNOWN });
  t.match((ends[0]!.error as Error).message, 'secret internals', 'the observer sees the handler’s own error');
});

t.test('gates admit or refuse before the handler, in order, and every admitting gate hears the end', async (t) => {
  const log: string[] = [];
  const ends: Record<string, Ended[]> = { outer: [], inner: [], observer: [] };
  let refuse = false;
  const outer: ServerGate<number> = {
    admit: () => {
      log.push('outer');
      return 1;
    },
    callEnd: (end, state) => ends.outer!.push(copy(end, state)),
  };
  const inner: ServerGate<string> = {
    admit: (call) => {
      log.push('inner');
      if (refuse) throw new RpcError(Code.PERMISSION_DENIED, `no ${call.method.name} for you`, { mayHaveRun: false });
      return undefined;
    },
    callEnd: (end, state) => ends.inner!.push(copy(end, state)),
  };
  const { client, stats } = await rig(t, [serverPlugin('gates', (ctx) => {
    ctx.addGate(inner, ServerInterceptorOrder.AUTH);
    ctx.addGate(outer, ServerInterceptorOrder.RATE_LIMIT);
    ctx.observe({ callStart: () => void log.push('observer'), callEnd: (end, state) => ends.observer!.push(copy(end, state)) });
    ctx.addInterceptor((next) => (call) => {
      log.push('interceptor');
      return next(call);
    }, ServerInterceptorOrder.USER);
  })]);

  await client.invoke('Echo', { message: 'x' });
  t.same(log, ['observer', 'outer', 'inner', 'interceptor'], 'observers, then gates by order, then the interceptor chain');
  t.match(ends.outer![0], { code: Code.OK, state: 1 });
  t.match(ends.inner![0], { code: Code.OK, state: undefined });

  refuse = true;
  log.length = 0;
  const calls = stats.calls;
  await t.rejects(client.invoke('Echo', { message: 'y' }), { code: Code.PERMISSION_DENIED, message: /no Echo for you/, mayHaveRun: false });
  t.equal(stats.calls, calls, 'the handler did not run');
  t.same(log, ['observer', 'outer', 'inner'], 'nothing after the refusing gate ran');
  t.match(ends.outer![1], { code: Code.PERMISSION_DENIED, state: 1 }, 'a gate that admitted hears the refusal');
  t.equal(ends.inner!.length, 1, 'the refusing gate admitted nothing: no callEnd');
  t.match(ends.observer![1], { code: Code.PERMISSION_DENIED }, 'observers see refused calls with their code');
});

t.test('a gate may wait (a promise): the rest waits, a rejection refuses, the resolved value is its state', async (t) => {
  const principal = createContextKey<string>('nobody', { description: 'principal' });
  const ends: Ended[] = [];
  const gate: ServerGate<string> = {
    admit: async (call) => {
      await new Promise((resolve) => setImmediate(resolve));
      const who = call.metadata.get('who');
      if (who === undefined) throw new RpcError(Code.UNAUTHENTICATED, 'who are you?', { mayHaveRun: false });
      call.context.set(principal, who);
      return `admitted ${who}`;
    },
    callEnd: (end, state) => ends.push(copy(end, state)),
  };
  const seen: string[] = [];
  const { client } = await rig(t, [serverPlugin('async-gate', (ctx) => {
    ctx.addGate(gate, ServerInterceptorOrder.AUTH);
    ctx.addInterceptor((next) => (call) => {
      seen.push(call.context.get(principal));
      return next(call);
    }, ServerInterceptorOrder.USER);
  })]);
  await client.invoke('Echo', { message: 'x' }, { metadata: { who: 'ann' } });
  t.same(seen, ['ann'], 'the interceptor ran after the gate’s promise resolved');
  t.match(ends[0], { code: Code.OK, state: 'admitted ann' });
  await t.rejects(client.invoke('Echo', { message: 'x' }), { code: Code.UNAUTHENTICATED, mayHaveRun: false });
  t.same(seen, ['ann'], 'a rejected promise refuses the call');
  t.equal(ends.length, 1, 'a gate that refused hears no end');
});

t.test('enter runs the rest of the call — gates and the handler — only for calls whose callStart returned a state', async (t) => {
  let inside: string | undefined;
  const seenByGate: (string | undefined)[] = [];
  const observer: ServerCallObserver<string> = {
    callStart: (call) => (call.metadata.get('scope') === undefined ? undefined : call.metadata.get('scope')),
    enter: (state, rest, call) => {
      const outer = inside;
      inside = state;
      try {
        return rest(call);
      } finally {
        inside = outer;
      }
    },
  };
  const { server, address } = await startEchoServer('c', {
    plugins: [serverPlugin('scope', (ctx) => {
      ctx.observe(observer);
      ctx.addGate({ admit: () => void seenByGate.push(inside) }, ServerInterceptorOrder.AUTH);
    })],
  });
  t.teardown(() => server.close({ graceMs: 0 }));
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  await client.start();
  t.teardown(() => client.close());
  await client.invoke('Echo', { message: 'x' }, { metadata: { scope: 's1' } });
  await client.invoke('Echo', { message: 'x' });
  t.same(seenByGate, ['s1', undefined], 'entered for the first call only');
  t.equal(inside, undefined);
});

t.test('a throwing observer is reported once and cannot change the call', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const { client } = await rig(t, [serverPlugin('broken', (ctx) => ctx.observe({
    callStart: () => {
      throw new Error('observer start broke');
    },
    callEnd: () => {
      throw new Error('observer end broke');
    },
  }))]);
  t.match(await client.invoke('Echo', { message: 'a' }), { message: 'a' });
  t.match(await client.invoke('Echo', { message: 'b' }), { message: 'b' });
  await waitUntil(() => warnings.length >= 1);
  t.equal(warnings.filter((w) => /observer start broke|observer end broke/.test(w)).length, 1, 'one warning for the observer');
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const until = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test('seven hooks that all return a state: each one gets back its own', async (t) => {
  const ends: string[] = [];
  const entered: string[] = [];
  const plugins: Plugin[] = [];
  for (let i = 0; i < 4; i++) {
    plugins.push(serverPlugin(`observer-${i}`, (ctx) => ctx.observe({
      callStart: () => `observer ${i}`,
      enter: (state, rest, call) => {
        entered.push(state as string);
        return rest(call);
      },
      callEnd: (_end, state) => void ends.push(`${i}: ${String(state)}`),
    })));
  }
  for (let i = 0; i < 3; i++) {
    plugins.push(serverPlugin(`gate-${i}`, (ctx) => ctx.addGate({
      admit: () => `gate ${i}`,
      callEnd: (_end, state) => void ends.push(`gate ${i}: ${String(state)}`),
    }, ServerInterceptorOrder.USER + i)));
  }
  const { client } = await rig(t, plugins);
  t.match(await client.invoke('Echo', { message: 'hi' }), { message: 'hi' });
  t.same(entered, ['observer 0', 'observer 1', 'observer 2', 'observer 3'], 'every enter with its own state');
  t.same(ends, ['gate 2: gate 2', 'gate 1: gate 1', 'gate 0: gate 0', '0: observer 0', '1: observer 1', '2: observer 2', '3: observer 3'],
    'gates in reverse, then observers, each with its own state');
  ends.length = 0;
  await t.rejects(client.invoke('Echo', { failCode: Code.NOT_FOUND }), { code: Code.NOT_FOUND });
  t.same(ends, ['gate 2: gate 2', 'gate 1: gate 1', 'gate 0: gate 0', '0: observer 0', '1: observer 1', '2: observer 2', '3: observer 3'], 'and again on the next call');
});
