import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { refusingPort } from '../src/index.js';

/** What a connection to 127.0.0.1:`port` gets: 'connected', or the error's code. */
function dial(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** What listening on `port` at `host` gets: 'listening' (then closed again), or the error's code. */
async function listenOn(port: number, host: string): Promise<string> {
  const server = createServer();
  try {
    server.listen(port, host);
    await once(server, 'listening');
    return 'listening';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  } finally {
    server.close();
  }
}

t.test('a refusing port refuses connections and no one else can listen on it while it is held', async (t) => {
  const dead = await refusingPort();
  t.teardown(() => dead.close());
  t.equal(dead.address, `127.0.0.1:${dead.port}`);
  t.equal(await dial(dead.port), 'ECONNREFUSED', 'refused at once, not accepted and not silent');
  for (const host of ['127.0.0.1', '0.0.0.0', '::']) {
    t.equal(await listenOn(dead.port, host), 'EADDRINUSE', `another server cannot take it (${host})`);
  }
  t.equal(await dial(dead.port), 'ECONNREFUSED', 'still refused');

  // Given back, the port is an ordinary free port again: what held it was this helper.
  await dead.close();
  await dead.close(); // idempotent
  t.equal(await listenOn(dead.port, '127.0.0.1'), 'listening', 'free once closed');
});

t.test('each call holds a port of its own', async (t) => {
  const ports = await Promise.all(Array.from({ length: 5 }, () => refusingPort()));
  t.teardown(() => Promise.all(ports.map((p) => p.close())));
  t.equal(new Set(ports.map((p) => p.port)).size, 5);
  t.same(await Promise.all(ports.map((p) => dial(p.port))), Array(5).fill('ECONNREFUSED'));
});

t.test('a port a server gave up is held refused, and the server can take it back while it is held', async (t) => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');

  const dead = await refusingPort({ port });
  t.teardown(() => dead.close());
  t.equal(dead.port, port);
  t.equal(await dial(port), 'ECONNREFUSED', 'refused while the server is down');

  // The restart: a server asking for that port by number gets it, the hold still in place.
  const restarted = createServer((socket) => socket.destroy()).listen(port, '127.0.0.1');
  await once(restarted, 'listening');
  t.teardown(() => void restarted.close());
  t.equal(await dial(port), 'connected', 'served again');
});

t.test('a port a listening server holds cannot be held', async (t) => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => void server.close());
  const { port } = server.address() as AddressInfo;
  await t.rejects(refusingPort({ port }), { message: new RegExp(`cannot hold port ${port} on 127\\.0\\.0\\.1: .*EADDRINUSE`) });
});
