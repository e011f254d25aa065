import type { Socket } from 'node:net';
import { Code, RpcError, RpcServer } from '@trellis/core';
import type { Listener, ListenOptions, RequestHandler, ServerTransport } from '@trellis/core/spi';
import type { InboundStream, ServerStreamExchange } from '@trellis/core';
import { DEFAULT_FRAME_LIMITS, ServerConnection } from '@trellis/core/internal';
import { loadEchoService } from '@trellis/testkit';
import { FakeSocket } from './fake-socket.js';
import { checkServerOutput, createTally, type OutputTally } from './output-check.js';

/** A transport that listens nowhere and hands the server's real request handler to the fuzzer. */
class CaptureTransport implements ServerTransport {
  handler: RequestHandler | undefined;
  async listen(_options: ListenOptions, handler: RequestHandler): Promise<Listener> {
    this.handler = handler;
    return { host: 'memory', port: 1, connectionCount: 0, goAway() {}, drained: async () => {}, close: async () => {} };
  }
}

export interface InProcessTarget {
  /** Feeds one input through a fresh connection, split into 1–3 chunks. */
  run(input: Buffer, random: () => number): FakeSocket;
  /** Settles pending handlers, then checks and releases the connections of the batch. */
  settle(sockets: FakeSocket[]): Promise<string | undefined>;
  close(): Promise<void>;
  /** What the server answered so far: responses by status code, GOAWAYs, PONGs. */
  readonly tally: OutputTally;
}

/**
 * Streams at the transport level (the kernel's stream dispatch is not part of this target): Echo
 * answers each message back and ends at the half-close; anything else fails at once.
 */
function fuzzStreamHandler(stream: InboundStream, exchange: ServerStreamExchange): void {
  if (stream.method !== 'Echo') return exchange.fail(new RpcError(Code.UNIMPLEMENTED, `no stream method ${stream.method}`, { mayHaveRun: false }));
  void (async () => {
    for await (const message of exchange.requests) {
      const wait = exchange.send(message);
      if (wait) await wait;
    }
    exchange.end(new Map([['echoed', 'yes']]));
  })().catch((error: unknown) => {
    if (!exchange.signal.aborted) exchange.fail(error instanceof RpcError ? error : new RpcError(Code.INTERNAL, String(error)));
  });
}

/**
 * The server's whole request path in memory: frame decoding, header decoding, service and method
 * lookup, body decoding, interceptors, handler, response encoding — the real RpcServer code.
 */
export async function createInProcessTarget(): Promise<InProcessTarget> {
  const capture = new CaptureTransport();
  const server = new RpcServer({ transport: capture });
  // Handlers that never wait: fuzzed delay fields must not park timers. `fail_code` is honoured (as in
  // the testkit's echo handlers) so that inputs reach the error path with a message the peer chose —
  // the path of issue #15's remote crash (an error message over the 16-bit header length).
  server.addService(loadEchoService(), {
    echo: async (request: { message: string; failCode: number; failMessage: string }) => {
      if (request.failCode !== 0) throw new RpcError(request.failCode as Code, request.failMessage || 'injected failure');
      return { message: request.message, servedBy: 'fuzz' };
    },
    mutate: async () => { throw new Error('mutate always fails'); },
  });
  await server.start();
  const handler = capture.handler!;
  const errors: string[] = [];
  const tally = createTally();
  const options = {
    limits: { ...DEFAULT_FRAME_LIMITS, maxBodySize: 64 * 1024 },
    maxConcurrentStreams: 100,
    onError: () => {},
    firstFrameTimeoutMs: 60_000,
    idleTimeoutMs: 0,
    identity: undefined,
    streams: fuzzStreamHandler,
    maxOpenStreams: 50,
  };
  return {
    run(input, random) {
      const socket = new FakeSocket();
      try {
        new ServerConnection(socket as unknown as Socket, handler, options, () => {});
        let offset = 0;
        for (let chunks = 1 + Math.floor(random() * 3); chunks > 0 && offset < input.length; chunks--) {
          const end = chunks === 1 ? input.length : offset + Math.floor(random() * (input.length - offset + 1));
          socket.emit('data', input.subarray(offset, end));
          offset = end;
        }
      } catch (error) {
        errors.push(`exception escaped the connection: ${(error as Error).stack}`);
      }
      return socket;
    },
    async settle(sockets) {
      await new Promise((resolve) => setImmediate(resolve));
      let violation = errors.shift();
      for (const socket of sockets) {
        violation ??= checkServerOutput(socket.written, tally);
        socket.destroy();
      }
      await new Promise((resolve) => setImmediate(resolve));
      return violation;
    },
    close: () => server.close({ graceMs: 0 }),
    tally,
  };
}
