import 'reflect-metadata';
import t from 'tap';
import {
  Code, definePlugin, RpcClient, RpcError, RpcMethod, RpcServer, ServerInterceptorOrder,
  type Plugin, type ServerCallEnd, type ServerGate, type ServerPluginContext,
} from '../src/index.js';
import { ECHO, waitFor } from './fixtures/json-service.js';

// Server gates that return a promise (`ServerGate.admit`): the server stops waiting for one at the
// call's deadline (DEADLINE_EXCEEDED) or the caller's cancel, answers the call, and frees it.

/** The server's own cap on Echo: far below the client's deadline, so a DEADLINE_EXCEEDED the caller gets comes from the server. */
const SERVER_CAP_MS = 300;

class CappedEcho {
  calls = 0;

  @RpcMethod({ timeoutMs: SERVER_CAP_MS })
  echo(request: { message?: string }) {
    this.calls++;
    return { message: request.message ?? '' };
  }

  mutate(request: unknown) {
    return request;
  }
}

interface Ended {
  code: Code;
  state: unknown;
}

function serverPlugin(setup: (ctx: ServerPluginContext) => void): Plugin {
  return definePlugin({ meta: { name: 'test-server-waiting-gates', kernel: '^0.1.0' }, setupServer: setup });
}

/** A gate that admits at once with `state` and records every end it hears. */
function recordingGate(ends: Ended[], state: string): ServerGate<string> {
  return { admit: () => state, callEnd: (end: ServerCallEnd, s) => void ends.push({ code: end.code, state: s }) };
}

async function rig(t: { teardown(fn: () => unknown): void }, plugins: Plugin[]) {
  const service = new CappedEcho();
  const server = new RpcServer({ host: '127.0.0.1', plugins });
  server.addService(ECHO, service);
  await server.start();
  // The client's own deadline is a minute: only the server can end these calls within the test's time.
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 60_000, transparentRetries: 0 });
  await client.start();
  let closed = false;
  t.teardown(async () => {
    await client.close();
    if (!closed) await server.close({ graceMs: 0 });
  });
  return { service, server, client, markClosed: () => (closed = true) };
}

t.test('a gate that never settles: the call ends with DEADLINE_EXCEEDED at its deadline, and the server frees it', async (t) => {
  const ends = { before: [] as Ended[], waiting: [] as Ended[], after: [] as Ended[], observer: [] as Ended[] };
  const admitted: string[] = [];
  const { service, server, client, markClosed } = await rig(t, [serverPlugin((ctx) => {
    ctx.observe({ callEnd: (end) => void ends.observer.push({ code: end.code, state: undefined }) });
    ctx.addGate(recordingGate(ends.before, 'before'), ServerInterceptorOrder.METRICS);
    ctx.addGate({
      admit: () => {
        admitted.push('waiting');
        return new Promise<never>(() => undefined);
      },
      callEnd: (end, s) => void ends.waiting.push({ code: end.code, state: s }),
    }, ServerInterceptorOrder.RATE_LIMIT);
    ctx.addGate({ admit: () => void admitted.push('after'), callEnd: (end, s) => void ends.after.push({ code: end.code, state: s }) }, ServerInterceptorOrder.USER);
  })]);

  const error = await client.invoke('Echo', { message: 'x' }).catch((e: unknown) => e);
  t.ok(error instanceof RpcError, 'the call failed');
  t.match(error, { code: Code.DEADLINE_EXCEEDED, mayHaveRun: false }, 'DEADLINE_EXCEEDED from the server, the handler never ran');
  t.equal(service.calls, 0, 'the handler did not run');
  t.same(admitted, ['waiting'], 'no gate after the waiting one ran');
  t.same(ends.before, [{ code: Code.DEADLINE_EXCEEDED, state: 'before' }], 'a gate that admitted hears the deadline');
  t.same(ends.waiting, [], 'the gate that never admitted hears no end');
  t.same(ends.after, [], 'a gate that never ran hears no end');
  t.same(ends.observer, [{ code: Code.DEADLINE_EXCEEDED, state: undefined }], 'observers hear the deadline, once');

  // The call is over on the server: closing with a grace far beyond the test's own timeout returns
  // once the connection is drained, which it is only if the held call was let go.
  await server.close({ graceMs: 10 * 60_000 });
  markClosed();
  t.same(ends.observer.length, 1, 'still one end');
});

t.test('a gate that fulfils after the deadline hears the end then, with its state; nothing after it runs', async (t) => {
  let release!: (state: string) => void;
  const held = new Promise<string>((resolve) => (release = resolve));
  let asked!: () => void;
  const gateAsked = new Promise<void>((resolve) => (asked = resolve));
  const ends = { waiting: [] as Ended[], after: [] as Ended[] };
  const { service, client } = await rig(t, [serverPlugin((ctx) => {
    ctx.addGate({
      admit: () => (asked(), held),
      callEnd: (end, s) => void ends.waiting.push({ code: end.code, state: s }),
    }, ServerInterceptorOrder.RATE_LIMIT);
    ctx.addGate(recordingGate(ends.after, 'after'), ServerInterceptorOrder.USER);
  })]);

  const call = client.invoke('Echo', { message: 'x' });
  await gateAsked;
  await t.rejects(call, { code: Code.DEADLINE_EXCEEDED, mayHaveRun: false });
  t.same(ends.waiting, [], 'no end before the gate admitted');
  release('permit'); // a limiter's queue handing out its permit too late
  await waitFor(() => ends.waiting.length > 0);
  t.same(ends.waiting, [{ code: Code.DEADLINE_EXCEEDED, state: 'permit' }], 'the late admission hears the call’s end once, with its state');
  t.same(ends.after, [], 'the gate after it never ran');
  t.equal(service.calls, 0, 'the handler did not run');

  // A later call through the same gate (now fulfilled) goes on as usual.
  t.match(await client.invoke('Echo', { message: 'y' }), { message: 'y' });
  t.equal(service.calls, 1);
  t.same(ends.waiting[1], { code: Code.OK, state: 'permit' });
});

t.test('the caller cancelling while a gate waits ends the call on the server (CANCELLED)', async (t) => {
  const ends: Ended[] = [];
  let asked!: () => void;
  const gateAsked = new Promise<void>((resolve) => (asked = resolve));
  const { service, client } = await rig(t, [serverPlugin((ctx) => {
    ctx.observe({ callEnd: (end) => void ends.push({ code: end.code, state: undefined }) });
    ctx.addGate({ admit: () => (asked(), new Promise<never>(() => undefined)) }, ServerInterceptorOrder.RATE_LIMIT);
  })]);

  const controller = new AbortController();
  const call = client.invoke('Echo', { message: 'x' }, { signal: controller.signal });
  await gateAsked;
  controller.abort();
  await t.rejects(call, { code: Code.CANCELLED });
  await waitFor(() => ends.length > 0);
  t.same(ends, [{ code: Code.CANCELLED, state: undefined }], 'the server ended the held call with the cancel');
  t.equal(service.calls, 0, 'the handler did not run');
});
