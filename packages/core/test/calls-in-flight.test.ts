import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcServer } from '../src/index.js';
import { CallTable } from '../src/transport/call-table.js';
import { ECHO } from './fixtures/json-service.js';
import { echoRequest, RawPeer, responseHeader } from './fixtures/raw-peer.js';

// The connections keep their calls in flight in a CallTable (slots by the stream id's low bits, a
// Map for ids whose slot is taken). These tests drive the cases the usual traffic never reaches.

t.test('a call held while thousands of others pass on the same connection still gets its own answer', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry() });
  server.addService(ECHO, {
    echo: async (request: { message: string; hold?: boolean }) => {
      if (request.hold) await gate;
      return { message: request.message };
    },
    mutate: (request: unknown) => request,
  });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 60_000 });
  t.teardown(async () => { await client.close(); await server.close({ graceMs: 0 }); });
  const held = client.invoke('Echo', { message: 'held', hold: true });
  // 3,000 calls, 64 at a time: their stream ids wrap the table's slots past the held call's several times.
  for (let batch = 0; batch < 3000 / 64; batch++) {
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => client.invoke('Echo', { message: `q${batch}-${i}` })));
    if (answers.some((answer, i) => (answer as { message: string }).message !== `q${batch}-${i}`)) t.fail(`batch ${batch} got another call's answer`);
  }
  release();
  t.same(await held, { message: 'held' }, 'the held call is answered with its own response');
  t.same(await client.invoke('Echo', { message: 'after' }), { message: 'after' });
});

t.test('a server answers requests whose stream ids share a slot, each with its own answer', async (t) => {
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry() });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  server.addService(ECHO, {
    echo: async (request: { message: string }) => {
      await gate;
      return { message: request.message };
    },
    mutate: (request: unknown) => request,
  });
  await server.start();
  const peer = await RawPeer.connect(server.port);
  t.teardown(async () => { peer.destroy(); await server.close({ graceMs: 0 }); });
  // Ids a client may choose: equal modulo every table size, all in flight at once.
  const ids = [1, 1025, 2049, 3073, 17, 1041];
  for (const id of ids) peer.write(echoRequest(id, { message: `id ${id}` }));
  release();
  for (const id of ids) {
    const frame = await peer.response(id, 30_000);
    t.equal(responseHeader(frame).code, Code.OK, `stream ${id} answered OK`);
    t.same(JSON.parse(frame.body.toString('utf8')), { message: `id ${id}` }, `stream ${id} got its own answer`);
  }
});

t.test('CallTable: slots, a Map for taken slots, growth, deletes in any order', async (t) => {
  const table = new CallTable<{ streamId: number }>();
  const calls = Array.from({ length: 300 }, (_, i) => ({ streamId: i + 1 }));
  for (const call of calls) table.add(call);
  const clash = { streamId: 1 + 1024 }; // slot of id 1 at every table size
  table.add(clash);
  t.equal(table.size, 301);
  t.equal(table.get(1), calls[0]);
  t.equal(table.get(1025), clash);
  t.equal(table.get(5000), undefined, 'an id never added');
  t.equal(table.values().length, 301);
  t.notOk(table.delete({ streamId: 1 }), 'another object with the same id is not the call held');
  for (let i = calls.length - 1; i >= 0; i -= 2) t.ok(table.delete(calls[i]!));
  t.ok(table.delete(clash));
  t.notOk(table.delete(clash), 'a call is deleted once');
  t.equal(table.size, 150);
  t.equal(table.get(1025), undefined);
  t.equal(table.get(1), calls[0], 'the call in the shared slot is still there');
  for (let i = 0; i < calls.length; i += 2) t.equal(table.get(calls[i]!.streamId), calls[i]);
  table.clear();
  t.equal(table.size, 0);
  t.equal(table.get(1), undefined);
});
