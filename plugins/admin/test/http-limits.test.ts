import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import { admin, serveRegistryConsole, type AdminPlugin } from '../src/index.js';

/**
 * The console's HTTP server limits, with raw sockets: a client dripping its headers is cut after
 * headersTimeoutMs, connections past maxConnections are closed at once while the others keep
 * working, and an answer that takes longer than requestTimeoutMs still arrives.
 */

// Only a guard a loaded 2-core CI machine never reaches: every wait below is for an event.
const GUARD_MS = 30_000;

async function consoleOnServer(t: Test, options: Parameters<typeof admin>[0]): Promise<AdminPlugin> {
  const plugin = admin(options);
  const server = new RpcServer({ host: '127.0.0.1', plugins: [plugin] }).addService(loadEchoService(), createEchoHandlers({ servedBy: 'p' }));
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  return plugin;
}

interface RawConnection {
  readonly socket: Socket;
  /** Every byte the server wrote so far. */
  received(): string;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
}

async function open(port: number): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => { /* a reset by the server is one of the outcomes under test */ });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

/** A chunked body's data once its last chunk is in, else undefined. */
function dechunk(text: string): string | undefined {
  let body = '';
  for (let at = 0; ;) {
    const line = text.indexOf('\r\n', at);
    if (line < 0) return undefined;
    const size = parseInt(text.slice(at, line), 16);
    if (size === 0) return text.length >= line + 4 ? body : undefined;
    if (text.length < line + 2 + size + 2) return undefined;
    body += text.slice(line + 2, line + 2 + size);
    at = line + 2 + size + 2;
  }
}

/** One keep-alive GET on a raw connection; resolves with the status and body (Content-Length or chunked). */
function get(connection: RawConnection, path: string): Promise<{ status: number; body: string }> {
  const before = connection.received().length;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const text = connection.received().slice(before);
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1];
      const body = length === undefined ? dechunk(text.slice(end + 4)) : text.slice(end + 4, end + 4 + Number(length));
      if (body === undefined || body.length < Number(length ?? 0)) return;
      connection.socket.off('data', check);
      connection.socket.off('close', closed);
      resolve({ status: Number(text.slice(9, 12)), body });
    };
    const closed = (): void => reject(new Error(`the server closed the connection; it had sent ${JSON.stringify(connection.received().slice(before))}`));
    if (connection.socket.destroyed) return closed();
    connection.socket.on('data', check);
    connection.socket.once('close', closed);
    connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

function withinGuard<T>(promise: Promise<T>, what: string): Promise<T | 'guard'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'guard'>((resolve) => (timer = setTimeout(() => resolve('guard'), GUARD_MS)));
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer)).then((value) => {
    if (value === 'guard') throw new Error(`${what}: not within ${GUARD_MS} ms`);
    return value;
  });
}

/** A request line, then one header byte every 200 ms, never the blank line that ends the headers. */
function drip(connection: RawConnection): void {
  connection.socket.write('GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ');
  const timer = setInterval(() => {
    if (!connection.socket.destroyed) connection.socket.write('a');
  }, 200);
  void connection.closed.then(() => clearInterval(timer));
}

t.test('a client dripping its headers is closed after headersTimeoutMs; others are served meanwhile', async (t) => {
  const plugin = await consoleOnServer(t, { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 60_000 });
  const slow = await open(plugin.port!);
  t.teardown(() => slow.socket.destroy());
  drip(slow);
  const normal = await open(plugin.port!);
  t.teardown(() => normal.socket.destroy());
  const answer = await get(normal, '/api/whoami');
  t.equal(answer.status, 200, 'a normal request is answered while the drip goes on');
  t.same(JSON.parse(answer.body), { role: 'read', canWrite: false, consoleWritable: false });
  // Node's defaults (headers 60 s, checked every 30 s) would keep it open past the guard.
  await withinGuard(slow.closed, 'the dripping connection closed');
  t.match(slow.received(), /^HTTP\/1\.1 408 /, 'told 408 Request Timeout');
  t.equal((await get(normal, '/api/whoami')).status, 200, 'the normal connection still serves');
});

t.test('connections past maxConnections are closed as they come; the ones held keep working', async (t) => {
  const plugin = await consoleOnServer(t, { maxConnections: 2, keepAliveTimeoutMs: 60_000 });
  const first = await open(plugin.port!);
  const second = await open(plugin.port!);
  t.teardown(() => { first.socket.destroy(); second.socket.destroy(); });
  t.equal((await get(first, '/api/whoami')).status, 200);
  t.equal((await get(second, '/api/whoami')).status, 200);
  const third = await open(plugin.port!);
  t.teardown(() => third.socket.destroy());
  third.socket.write('GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await withinGuard(third.closed, 'the connection past the cap closed');
  t.equal(third.received(), '', 'closed without an answer');
  t.equal((await get(first, '/api/whoami')).status, 200, 'the connections held still serve');
  t.equal((await get(second, '/api/state')).status, 200);
});

t.test('an answer slower than requestTimeoutMs still arrives: the deadline covers receiving the request', async (t) => {
  // The console's page polls (no streaming endpoint); its slowest answers wait on other parts (a
  // worker group's read-out, a registry's catalog): those must not be cut once the request is in.
  let called!: () => void;
  const asked = new Promise<void>((resolve) => (called = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const registryConsole = await serveRegistryConsole({
    registry: 'etcd://127.0.0.1:2379',
    headersTimeoutMs: 1_000,
    requestTimeoutMs: 1_000,
    keepAliveTimeoutMs: 60_000,
    services: async () => {
      called();
      await released;
      return [{ group: 'default', name: 'demo.Greeter', providers: [] }];
    },
  });
  t.teardown(() => registryConsole.close());
  const waiting = await open(registryConsole.port);
  t.teardown(() => waiting.socket.destroy());
  const answer = get(waiting, '/api/state');
  await asked;
  // A drip begun after the slow request was in: once the server has cut it, the server's deadline
  // check has run more than requestTimeoutMs after the slow request arrived.
  const slow = await open(registryConsole.port);
  t.teardown(() => slow.socket.destroy());
  drip(slow);
  await withinGuard(slow.closed, 'the dripping connection closed');
  t.match(slow.received(), /^HTTP\/1\.1 408 /);
  release();
  const state = await answer;
  t.equal(state.status, 200, 'the slow answer arrives');
  t.match(JSON.parse(state.body), { mode: 'registry', services: [{ name: 'demo.Greeter' }], canWrite: false, consoleWritable: false });
});

t.test('the limits are options, checked when the plugin is made', async (t) => {
  for (const options of [
    { headersTimeoutMs: 0 }, { requestTimeoutMs: 1.5 }, { keepAliveTimeoutMs: -1 }, { maxConnections: 0 }, { maxConnections: '8' },
    { headersTimeoutMs: 20_000 }, // past the default requestTimeoutMs (15 s): the headers are part of the request
  ]) {
    t.throws(() => admin(options as never), { code: 'ERR_INVALID_OPTION' }, JSON.stringify(options));
  }
  t.throws(() => admin({ headersTimeoutMs: 5_000, requestTimeoutMs: 2_000 }), { code: 'ERR_INVALID_OPTION', message: /headersTimeoutMs.*at most requestTimeoutMs \(2000\)/ });
  t.doesNotThrow(() => admin({ headersTimeoutMs: 20_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 10_000, maxConnections: 8 }));
});
