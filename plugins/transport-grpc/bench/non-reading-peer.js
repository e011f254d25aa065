'use strict';
// What a client that never reads costs a GrpcServer process: RSS of the server process (Linux /proc)
// before and while raw HTTP/2 connections hold `--streams` server-streaming calls each, having opened
// SETTINGS_INITIAL_WINDOW_SIZE and the connection window to 2^31−1 and then never reading their socket.
// The handler streams 1 KiB messages as fast as `send()` lets it (each send awaited; it yields to the
// event loop every 64 messages). A reading client's unary call is timed against the same server at the
// end, to show it is still served.
//
//   node plugins/transport-grpc/bench/non-reading-peer.js [--root <checkout with transport-grpc built>]
//        [--streams 500] [--connections 1] [--rounds 3] [--message 1024] [--engine trellis|node:http2]
//
// `--root` measures another build with this same script (e.g. one without writeHighWaterMark). RSS is a
// process figure: it includes the allocator's free pages, so compare runs made one after another.
const path = require('node:path');
const { fork } = require('node:child_process');
const net = require('node:net');
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');

const argv = process.argv.slice(2);
const take = (flag, fallback) => {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv.splice(at, 2)[1] : fallback;
};
const root = path.resolve(take('--root', path.join(__dirname, '..', '..', '..')));
const STREAMS = Number(take('--streams', '500'));
const CONNECTIONS = Number(take('--connections', '1'));
const ROUNDS = Number(take('--rounds', '3'));
const MESSAGE = Number(take('--message', '1024'));
const ENGINE = take('--engine', 'trellis');
const grpcDist = path.join(root, 'plugins/transport-grpc/dist/index.js');
const testkitDist = path.join(root, 'packages/testkit/dist/index.js');

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv.includes('--server')) {
  const { GrpcServer, GrpcServiceRegistry } = require(grpcDist);
  const message = Buffer.alloc(MESSAGE, 0x61);
  const app = new GrpcServiceRegistry().add('bench.S', {
    Watch: {
      kind: 'server-streaming',
      async handle(call) {
        for (let i = 1; ; i++) {
          await call.send(message);
          if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      },
    },
    Echo: { kind: 'unary', handle: (call) => call.request },
  });
  const server = new GrpcServer(app, { engine: ENGINE, onError: () => undefined });
  server.listen({ host: '127.0.0.1', port: 0 }).then(({ port }) => process.send({ port }));
  process.on('message', (m) => {
    if (m === 'memory') {
      global.gc(); // live bytes only: what the connections hold, not garbage a later GC would free
      const usage = process.memoryUsage();
      process.send({ memory: { heapUsed: usage.heapUsed, external: usage.external + usage.arrayBuffers, connections: server.connectionCount } });
    }
  });
  return;
}

const { h2 } = require(testkitDist);
const { GrpcClient } = require(grpcDist);

async function attack(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  const settings = Buffer.alloc(6);
  settings.writeUInt16BE(4, 0);
  settings.writeUInt32BE(2 ** 31 - 1, 2);
  const increment = Buffer.alloc(4);
  increment.writeUInt32BE(2 ** 31 - 1 - 65535);
  const parts = [h2.HTTP2_PREFACE, h2.frame(4, 0, 0, settings), h2.frame(4, 1, 0), h2.frame(8, 0, 0, increment)];
  for (let i = 0; i < STREAMS; i++) {
    const id = 1 + 2 * i;
    parts.push(h2.frame(1, 4, id, h2.grpcRequestHeaders('/bench.S/Watch', port)), h2.frame(0, 1, id, h2.grpcMessage(Buffer.alloc(0))));
  }
  socket.write(Buffer.concat(parts));
  return socket;
}

(async () => {
  const child = fork(__filename, ['--server', '--root', root, '--message', String(MESSAGE), '--engine', ENGINE], { stdio: 'inherit', execArgv: ['--expose-gc'] });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  const memory = () => new Promise((resolve) => {
    child.once('message', (m) => resolve(m.memory));
    child.send('memory');
  });
  const client = new GrpcClient();
  await client.unary(`127.0.0.1:${port}`, '/bench.S/Echo', Buffer.from('warm'));
  await sleep(500);
  const baseline = rssMb(child.pid);
  console.log(`root ${root}, engine ${ENGINE}: ${CONNECTIONS} connection(s) × ${STREAMS} streams, ${MESSAGE}-byte messages, ${ROUNDS} rounds`);
  const before = await memory();
  console.log(`server RSS before: ${baseline.toFixed(1)} MB; after a full GC: JS heap ${(before.heapUsed / 1048576).toFixed(1)} MB, external+arrayBuffers ${(before.external / 1048576).toFixed(1)} MB`);
  for (let round = 1; round <= ROUNDS; round++) {
    const sockets = [];
    for (let c = 0; c < CONNECTIONS; c++) sockets.push(await attack(port));
    let peak = 0;
    // 3 s of samples: the queue fills within the first few hundred ms, well before the keepalive round (30 s).
    for (let i = 0; i < 30; i++) {
      await sleep(100);
      peak = Math.max(peak, rssMb(child.pid));
    }
    const m = await memory();
    const started = performance.now();
    await client.unary(`127.0.0.1:${port}`, '/bench.S/Echo', Buffer.from('still served'));
    const ms = performance.now() - started;
    console.log(`round ${round}: server RSS peak ${peak.toFixed(1)} MB (+${(peak - baseline).toFixed(1)}), after a full GC: JS heap ${(m.heapUsed / 1048576).toFixed(1)} MB, external+arrayBuffers ${(m.external / 1048576).toFixed(1)} MB, connections ${m.connections}; another client's unary call ${ms.toFixed(1)} ms`);
    for (const socket of sockets) socket.destroy();
    await sleep(1500);
  }
  console.log(`server RSS after the attacks: ${rssMb(child.pid).toFixed(1)} MB`);
  client.close();
  child.kill();
})();
