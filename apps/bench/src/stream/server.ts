/**
 * The server process of `pnpm bench:stream` (forked by main.ts): one side per process, told which
 * by argv[2] — `trellis` (the native transport's stream SPI), `kernel` / `kernel-encode` (an RpcServer
 * stream handler, with and without the codec's in-place encoder), `kernel-baseline` (the same with
 * another build of the codec: --baseline-codec), `grpc-js` or `raw`. It reports its
 * port, and on request its heap after a GC (the idle-stream memory figure).
 */
import { createServer, type Socket } from 'node:net';
import { Code, RpcError, RpcServer, TcpServerTransport, type ServerInvocation } from '@trellis/core';
import type { InboundStream, ServerStreamExchange } from '@trellis/core';
import { serve } from '../grpc/sides.js';
import { makeRequest } from '../payload.js';
import { baselineLoader, echoType, frameMessages, kernelStreamService } from './wire.js';

type Side = 'trellis' | 'kernel' | 'kernel-baseline' | 'kernel-encode' | 'grpc-js' | 'raw';

const side = process.argv[2] as Side;
const idle: ServerStreamExchange[] = [];

async function start(): Promise<{ port: number; close(): Promise<void> }> {
  if (side === 'grpc-js') return serve('grpc-js');
  if (side === 'raw') return serveRaw();
  if (side === 'kernel') return serveKernel(true);
  if (side === 'kernel-encode') return serveKernel(false);
  if (side === 'kernel-baseline') return serveKernel(true, baselineLoader());
  return serveTrellis();
}

/** The native transport driven through its SPI, protobufjs encode per message as a handler would. */
async function serveTrellis() {
  const Echo = echoType();
  const message = Echo.fromObject({ message: 'x'.repeat(100), id: 1, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  const transport = new TcpServerTransport({ maxOpenStreams: 20_000 });
  const streams = (stream: InboundStream, exchange: ServerStreamExchange): void => {
    if (stream.method === 'Idle') {
      idle.push(exchange);
      exchange.sendHeaders(undefined);
      return;
    }
    if (stream.method === 'PingPong') {
      void (async () => {
        for await (const request of exchange.requests) {
          const wait = exchange.send(Echo.encode(Echo.decode(request)).finish());
          if (wait) await wait;
        }
        exchange.end(undefined);
      })().catch(() => {});
      return;
    }
    void (async () => {
      const signal = exchange.signal;
      while (!signal.aborted) {
        const wait = exchange.send(Echo.encode(message).finish());
        if (wait) await wait;
      }
    })().catch(() => { /* cancelled: the round is over */ });
  };
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, (request, exchange) => {
    try {
      exchange.respond(Echo.encode(Echo.decode(request.body)).finish(), undefined);
    } catch (error) {
      exchange.fail(new RpcError(Code.INVALID_ARGUMENT, String(error)));
    }
  }, streams);
  return { port: listener.port, close: () => listener.close() };
}

/**
 * The kernel's stream API: an RpcServer whose handler is an async generator yielding the plain
 * object an application would (the codec converts and encodes each message) — with the codec's
 * in-place fast path (`kernel`) or with `encode()` per message (`kernel-encode`).
 */
async function serveKernel(inPlace: boolean, load?: Parameters<typeof kernelStreamService>[1]) {
  const message = makeRequest(1);
  const server = new RpcServer({ host: '127.0.0.1', port: 0 }).addService(kernelStreamService(inPlace, load), {
    async *stream(_request: unknown, call: ServerInvocation) {
      while (!call.signal.aborted) yield message;
    },
  });
  await server.start();
  return { port: server.port, close: () => server.close({ graceMs: 100 }) };
}

/** The limit: length-prefixed protobufjs frames pushed as fast as the socket takes them. */
async function serveRaw() {
  const Echo = echoType();
  const message = Echo.fromObject({ message: 'x'.repeat(100), id: 1, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let open = true;
    socket.on('close', () => (open = false));
    let batches = 0;
    const push = (): void => {
      // A batch of frames per write, as a coalescing writer does; stop at write() === false until 'drain'.
      // Every 16 batches (4,096 messages) it lets the event loop turn, as any server must: a loopback
      // socket can take every write at once, and the loop would otherwise never yield (the
      // bench's CPU read-out over IPC waited forever).
      while (open) {
        if (!socket.write(frameMessages(Echo, message, 256))) return void socket.once('drain', push);
        if (socket.writableLength > 0 || ++batches % 16 === 0) return void setImmediate(push);
      }
    };
    push();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

void start().then((served) => {
  process.send!({ type: 'ready', port: served.port });
  process.on('message', (m: string) => {
    if (m === 'memory') {
      global.gc?.();
      process.send!({ heap: process.memoryUsage().heapUsed, idle: idle.length });
    } else if (m === 'cpu') {
      const usage = process.cpuUsage();
      process.send!({ cpu: usage.user + usage.system });
    } else if (m === 'close') {
      void served.close().finally(() => process.exit(0));
    }
  });
});
