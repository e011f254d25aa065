import { fork } from 'node:child_process';
import { join } from 'node:path';
import { RpcClient, type ServiceDefinition } from '@trellis/core';
import t from 'tap';
import { GrpcClientTransport } from '../src/index.js';

/**
 * `RpcServer({ workers, listeners })`: every worker opens the native and the gRPC listener, and
 * node:cluster shares each port among them; the primary registers one instance whose document names
 * both ports. Connections are spread over the workers, so both workers answer on both ports.
 */
const codec = {
  encode: (message: unknown) => Buffer.from(JSON.stringify(message)),
  decode: (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8')),
};
const ECHO = {
  name: 'test.Echo',
  methods: { Echo: { name: 'Echo', localName: 'echo', requestCodec: codec, responseCodec: codec, idempotent: true, options: {} } },
} as unknown as ServiceDefinition;

type Started = { port: number; listeners: { protocol: string; port: number; tls: boolean }[]; registered: { port: number; protocols?: object }[]; workers: number[] };

t.test('two workers serve native and gRPC; the primary registers both ports', { timeout: 120_000 }, async (t) => {
  const child = fork(join(__dirname, 'fixtures', 'grpc-worker-provider.cjs'), [], {
    execArgv: [],
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  const started = await new Promise<Started>((resolve, reject) => {
    child.on('message', (m: { started?: Started; startFailed?: object }) => {
      if (m.started) resolve(m.started);
      if (m.startFailed) reject(new Error(`start failed: ${JSON.stringify(m.startFailed)}\n${stderr}`));
    });
    child.on('exit', (code) => reject(new Error(`the provider exited (${code}) before it started\n${stderr}`)));
  });
  const [native, grpc] = started.listeners;
  t.match(started.listeners, [{ protocol: 'trellis', port: started.port }, { protocol: 'grpc' }], 'the primary knows both ports of its workers');
  t.not(native!.port, grpc!.port);
  t.match(started.registered, [{ port: started.port, protocols: { trellis: { port: native!.port }, grpc: { port: grpc!.port } } }], 'one instance, both protocols');
  t.equal(started.workers.length, 2);

  // A new connection per call: node:cluster deals connections out to the workers in turn.
  const servedBy = async (client: RpcClient) => {
    try {
      return ((await client.invoke('Echo', { message: 'x' })) as { servedBy: string }).servedBy;
    } finally {
      await client.close();
    }
  };
  const nativePids = new Set<string>();
  const grpcPids = new Set<string>();
  for (let i = 0; i < 12 && (nativePids.size < 2 || grpcPids.size < 2); i++) {
    nativePids.add(await servedBy(new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${native!.port}`] })));
    const transport = new GrpcClientTransport();
    grpcPids.add(await servedBy(new RpcClient({ service: ECHO, addresses: [`grpc://127.0.0.1:${grpc!.port}`], transports: { grpc: transport } })));
    await transport.close();
  }
  const workers = started.workers.map(String).sort();
  t.same([...nativePids].sort(), workers, 'both workers answered on the native port');
  t.same([...grpcPids].sort(), workers, 'both workers answered on the gRPC port');

  const closed = new Promise<void>((resolve) => child.on('message', (m: { closed?: boolean }) => m.closed && resolve()));
  child.send('close');
  await closed;
  await exited;
});
