import { connect as http2Connect, createServer as createHttp2Server, type ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { loadProto } from '@trellis/codec-protobuf';
import { GrpcClient, GrpcServer, GrpcServiceRegistry } from '@trellis/transport-grpc';

/** protos/grpc-bench.proto, `..` twice from dist/grpc and src/grpc alike. */
export const GRPC_BENCH_PROTO = join(__dirname, '..', '..', 'protos', 'grpc-bench.proto');
const ECHO_PATH = '/grpcbench.GrpcBench/Echo';
const STREAM_PATH = '/grpcbench.GrpcBench/Stream';

/**
 * `node-http2`: a bare node:http2 echo of the framed bytes, no gRPC library — node:http2's ceiling.
 * `trellis-nghttp2`: the Trellis gRPC server on node:http2 (`engine: 'node:http2'`) instead of its own
 * HTTP/2 engine (server side only), to show what the engine changes.
 */
export type Side = 'trellis' | 'trellis-nghttp2' | 'grpc-js' | 'node-http2';

export interface BenchEchoMessage {
  message: string;
  id: number | string;
  values: number[];
}

export function echoMessage(id: number): BenchEchoMessage {
  return { message: 'x'.repeat(100), id, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] };
}

export interface Served {
  readonly port: number;
  close(): Promise<void>;
}

export interface Caller {
  /** One unary echo (the request is encoded, the response decoded, as an application would). */
  call(id: number): Promise<unknown>;
  /** Opens one server stream and counts decoded messages until `stop` resolves; resolves with the count. */
  stream(stop: Promise<void>): Promise<number>;
  close(): void;
}

const STREAM_COUNT = 1_000_000_000;

function codecs() {
  const pkg = loadProto(GRPC_BENCH_PROTO);
  return { echo: pkg.message<BenchEchoMessage>('grpcbench.EchoRequest'), stream: pkg.message<{ count: number }>('grpcbench.StreamRequest') };
}

function grpcJsDefinition() {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(GRPC_BENCH_PROTO, { longs: String, enums: String, defaults: true, oneofs: true })) as unknown as {
    grpcbench: { GrpcBench: grpc.ServiceClientConstructor };
  };
  return pkg.grpcbench.GrpcBench;
}

/** A server of each side: unary echo and a server stream of echo messages until cancelled. */
export async function serve(side: Side): Promise<Served> {
  if (side === 'node-http2') return serveBare();
  if (side === 'trellis' || side === 'trellis-nghttp2') {
    const c = codecs();
    const server = new GrpcServer(new GrpcServiceRegistry().add('grpcbench.GrpcBench', {
      Echo: { kind: 'unary', handle: (call) => c.echo.encode(c.echo.decode(call.request)) },
      Stream: {
        kind: 'server-streaming',
        async handle(call) {
          const { count } = c.stream.decode(call.request);
          const message = echoMessage(1);
          try {
            for (let i = 0; i < count; i++) await call.send(c.echo.encode(message));
          } catch {
            // The client cancelled: the round is over.
          }
        },
      },
    }), { engine: side === 'trellis' ? 'trellis' : 'node:http2' });
    const { port } = await server.listen({ host: '127.0.0.1' });
    return { port, close: () => server.close(500) };
  }
  const server = new grpc.Server();
  server.addService(grpcJsDefinition().service, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, call.request),
    Stream: async (call: grpc.ServerWritableStream<{ count: number }, unknown>) => {
      const message = echoMessage(1);
      call.on('error', () => undefined);
      for (let i = 0; i < call.request.count && !call.cancelled; i++) {
        if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
      }
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))));
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

/** A client of each side on one HTTP/2 connection. */
export function connect(side: Side, port: number): Caller {
  if (side === 'node-http2') return connectBare(port);
  const target = `127.0.0.1:${port}`;
  if (side === 'trellis' || side === 'trellis-nghttp2') {
    const c = codecs();
    const client = new GrpcClient();
    return {
      call: (id) => client.unary(target, ECHO_PATH, c.echo.encode(echoMessage(id))).then((r) => c.echo.decode(r.message)),
      async stream(stop) {
        const stream = client.serverStream(target, STREAM_PATH, c.stream.encode({ count: STREAM_COUNT }));
        let n = 0;
        void stop.then(() => stream.cancel('round over'));
        try {
          for await (const message of stream) {
            c.echo.decode(message);
            n++;
          }
        } catch {
          // CANCELLED: the round is over.
        }
        return n;
      },
      close: () => client.close(),
    };
  }
  const Service = grpcJsDefinition();
  const client = new Service(target, grpc.credentials.createInsecure()) as unknown as {
    echo(request: unknown, callback: (error: Error | null, value: unknown) => void): void;
    stream(request: unknown): grpc.ClientReadableStream<unknown>;
    close(): void;
  };
  return {
    call: (id) => new Promise((resolve, reject) => client.echo(echoMessage(id), (error, value) => (error ? reject(error) : resolve(value)))),
    stream(stop) {
      return new Promise((resolve) => {
        const stream = client.stream({ count: STREAM_COUNT });
        let n = 0;
        stream.on('data', () => n++);
        stream.on('error', () => resolve(n));
        stream.on('end', () => resolve(n));
        void stop.then(() => stream.cancel());
      });
    },
    close: () => client.close(),
  };
}

function sendTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers({ 'grpc-status': '0' });
}

/** The ceiling: node:http2 echoing the request's bytes with gRPC's headers and trailers, nothing else. */
async function serveBare(): Promise<Served> {
  const server = createHttp2Server();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', sendTrailers);
      stream.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    stream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function connectBare(port: number): Caller {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  const c = codecs();
  const frame = (message: Uint8Array) => {
    const out = Buffer.alloc(5 + message.length);
    out.writeUInt32BE(message.length, 1);
    out.set(message, 5);
    return out;
  };
  return {
    call: (id) => new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': ECHO_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('close', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
      stream.end(frame(c.echo.encode(echoMessage(id))));
    }),
    stream: () => Promise.resolve(0),
    close: () => session.close(),
  };
}
