import t from 'tap';
import { request } from 'node:http';
import { MemoryRegistry, RpcClient, RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService, waitFor } from '@trellis/testkit';
import { health } from '../src/index.js';

const service = loadEchoService();

function probe(port: number, path = '/health', method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function listed(registry: MemoryRegistry): Promise<number> {
  return new Promise((resolve) => {
    const subscription = registry.subscribe({ group: 'default', name: service.name }, (list) => {
      queueMicrotask(() => subscription.dispose());
      resolve(list.length);
    });
  });
}

t.test('graceful start: not registered and NOT_SERVING until readiness passes, then SERVING', async (t) => {
  const registry = new MemoryRegistry();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let checking!: () => void;
  const checkStarted = new Promise<void>((resolve) => (checking = resolve));
  const plugin = health({ http: { port: 0, host: '127.0.0.1' }, readiness: [() => { checking(); return gate; }] });
  const server = new RpcServer({ host: '127.0.0.1', registry, plugins: [plugin] });
  server.addService(service, createEchoHandlers({ servedBy: 's' }));
  const started = server.start();
  t.teardown(() => server.close());
  await checkStarted;
  const { port } = plugin.httpAddress()!;
  t.same(await probe(port), { status: 503, body: 'NOT_SERVING\n' }, 'the probe says "not yet" while readiness runs');
  t.equal(await listed(registry), 0, 'not in the registry before the readiness hook passed');
  t.ok(server.port > 0, 'although the RPC port already listens');
  t.notOk(plugin.serving);

  release();
  await started;
  t.equal(await listed(registry), 1, 'registered once ready');
  t.same(await probe(port), { status: 200, body: 'SERVING\n' });
  t.same((await probe(port, '/health', 'HEAD')).status, 200, 'HEAD works too, without a body');
  t.same((await probe(port, '/health?verbose=1')).status, 200, 'a query string is ignored');
  t.equal((await probe(port, '/other')).status, 404);
  t.equal((await probe(port, '/health', 'POST')).status, 405);
  t.ok(plugin.serving);

  plugin.setServing(false);
  t.equal((await probe(port)).status, 503, 'an operator can take the instance out of rotation');
  plugin.setServing(true);
  t.equal((await probe(port)).status, 200);
});

t.test('the health endpoint flips to NOT_SERVING at the start of graceful shutdown, while calls still finish', async (t) => {
  const registry = new MemoryRegistry();
  const plugin = health({ http: { port: 0, host: '127.0.0.1' } });
  let entered!: () => void;
  const callEntered = new Promise<void>((resolve) => (entered = resolve));
  const server = new RpcServer({ host: '127.0.0.1', registry, plugins: [plugin] });
  server.addService(service, createEchoHandlers({ servedBy: 's', onCall: () => entered() }));
  await server.start();
  const { port } = plugin.httpAddress()!;
  t.equal((await probe(port)).status, 200);
  const client = new RpcClient({ service, registry });
  t.teardown(() => client.close());
  const slow = client.invoke('Echo', { message: 'slow', delayMs: 600 });
  await callEntered;
  const closing = server.close({ graceMs: 5000 });
  t.same(await probe(port), { status: 503, body: 'NOT_SERVING\n' }, 'NOT_SERVING while the call drains');
  t.equal(await listed(registry), 0, 'and deregistered');
  t.match(await slow, { message: 'slow' }, 'the call in flight still finished');
  await closing;
  await t.rejects(probe(port), { code: 'ECONNREFUSED' }, 'the endpoint closes with the server');
});

t.test('startDelayMs holds registration back after readiness', async (t) => {
  const registry = new MemoryRegistry();
  // The delay runs after listening and the readiness checks: this check says when they passed (the
  // poll below can see the port late on a loaded machine, so it cannot time the delay). 1 s leaves
  // that late poll and the probes below room to run inside the delay.
  let checkedAt = Number.NaN;
  const plugin = health({ startDelayMs: 1000, readiness: [() => (checkedAt = Date.now())], http: { port: 0, host: '127.0.0.1' } });
  const server = new RpcServer({ host: '127.0.0.1', registry, plugins: [plugin] });
  server.addService(service, createEchoHandlers({ servedBy: 's' }));
  const started = server.start();
  t.teardown(() => server.close());
  let done = false;
  void started.then(() => (done = true));
  await waitFor(() => { try { return server.port > 0; } catch { return false; } }, { what: 'the RPC port listening' });
  t.notOk(done, 'still starting once listening');
  t.equal(await listed(registry), 0);
  t.equal((await probe(plugin.httpAddress()!.port)).status, 503);
  await started;
  // (a timer may fire up to a millisecond early: Node rounds its deadlines)
  t.ok(Date.now() - checkedAt >= 999, `registered no earlier than the delay (${Date.now() - checkedAt} ms after the readiness check)`);
  t.equal(await listed(registry), 1);
});

t.test('a failing readiness check fails start() and releases the health port', async (t) => {
  let port = 0;
  const plugin = health({
    http: { port: 0, host: '127.0.0.1' },
    readiness: [async () => {
      port = plugin.httpAddress()!.port;
      throw new Error('database unreachable');
    }],
  });
  const server = new RpcServer({ host: '127.0.0.1', plugins: [plugin] });
  server.addService(service, createEchoHandlers({ servedBy: 's' }));
  await t.rejects(server.start(), /database unreachable/);
  t.ok(port > 0);
  await t.rejects(probe(port), { code: 'ECONNREFUSED' }, 'the HTTP endpoint is closed');
});

t.test('a health port in use fails start() with a sentence saying what to change', async (t) => {
  const first = health({ http: { port: 0, host: '127.0.0.1' } });
  const a = new RpcServer({ host: '127.0.0.1', plugins: [first] });
  a.addService(service, createEchoHandlers({ servedBy: 'a' }));
  await a.start();
  t.teardown(() => a.close());
  const b = new RpcServer({ host: '127.0.0.1', plugins: [health({ http: { port: first.httpAddress()!.port, host: '127.0.0.1' } })] });
  b.addService(service, createEchoHandlers({ servedBy: 'b' }));
  await t.rejects(b.start(), /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE; choose another http\.port/);
});
