import { RpcClient, RpcServer } from '@trellis/core';
import { createEchoHandlers, h2, loadEchoService, seededRandom, waitFor } from '@trellis/testkit';
import { GrpcClientTransport, GrpcServerTransport } from '@trellis/transport-grpc';
import {
  compressedWithoutEncoding, garbageHpack, lengthBeyondLimit, malformedHeaders, randomFrames, randomMessages, rstFlood, settingsFlood, type AttackResult,
} from './attacks.js';
import { GrpcFrameMutator } from './grpc-mutator.js';

const { frame, FrameType, hasGoAway, RawHttp2Connection } = h2;

export interface Http2TargetOptions {
  readonly seed: number;
  /** Connections of mutated gRPC exchanges (each 1–3 calls with a few frames broken). */
  readonly mutatedConnections: number;
  /** Streams opened and reset in the RST_STREAM flood. */
  readonly rstStreams: number;
  /** Frames in the SETTINGS flood. */
  readonly settingsFrames: number;
  /** How often the named attacks are repeated (the flood connections each time). */
  readonly rounds?: number;
  readonly log?: (line: string) => void;
}

export interface Http2TargetReport {
  readonly attacks: AttackResult[];
  readonly mutated: { readonly connections: number; readonly refused: number; readonly survived: number };
  /** Calls the well-formed gRPC client made alongside, and what went wrong with any of them. */
  readonly goodCalls: number;
  readonly goodErrors: string[];
  /** Protocol problems the server reported (its `onError`): counted, never fatal. */
  readonly serverReports: number;
  /**
   * Attack connections the server still counted open after the attackers closed them (found by this
   * target: node leaves a connection nghttp2 ended with a GOAWAY open in CLOSE-WAIT, with no event;
   * the listener's keepalive PING now reaps it). Also listed in `failures` when not 0.
   */
  readonly leakedConnections: number;
  /** Every broken promise: an attack answered wrongly, a hang, a failed good call, a server gone. */
  readonly failures: string[];
  readonly seconds: number;
}

/** The request limit of the target's gRPC listener: small, so limits are easy to cross. */
export const MAX_RECEIVE_MESSAGE_SIZE = 64 * 1024;
/** How long an attack may take to get its answer on a loaded 2-core CI machine. */
const ANSWER_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 15_000;
/**
 * The gRPC listener's keepalive round, short here: node leaves a connection nghttp2 ended with a
 * GOAWAY for a protocol error open with no event, and the server's keepalive PING is what finds it.
 * Not shorter: a connection that has not answered the last PING when the next round comes is closed,
 * and the well-formed client lives in this process, so a stall of this process longer than a round
 * (a second is possible on a loaded 2-core CI machine) would close the good client's connection
 * under its calls.
 */
const KEEPALIVE_MS = 3000;
const RELEASE_TIMEOUT_MS = 5000 + 2 * KEEPALIVE_MS;

/**
 * The HTTP/2 target: a real RpcServer with a native and a gRPC listener (the Echo service behind the
 * kernel's whole dispatch), attacked on raw HTTP/2 connections — malformed HEADERS, a length prefix
 * past the limit, a compressed flag with no encoding, RST_STREAM and SETTINGS floods, then seeded
 * mutated gRPC exchanges — while a well-formed gRPC client (RpcClient over GrpcClientTransport) calls
 * on its own connection throughout and checks every answer. Afterwards both listeners must still serve.
 */
export async function runHttp2Target(options: Http2TargetOptions): Promise<Http2TargetReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const failures: string[] = [];
  let serverReports = 0;
  const server = new RpcServer({
    host: '127.0.0.1',
    listeners: [
      { protocol: 'trellis' },
      { protocol: 'grpc', transport: new GrpcServerTransport({ maxReceiveMessageSize: MAX_RECEIVE_MESSAGE_SIZE, keepaliveTimeMs: KEEPALIVE_MS, onError: () => serverReports++ }) },
    ],
  });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'http2-target' }));
  await server.start();
  const port = server.listeners.find((listener) => listener.protocol === 'grpc')!.port;
  const grpc = new GrpcClientTransport();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`grpc://127.0.0.1:${port}`], transports: { grpc }, timeoutMs: 10_000 });

  let goodCalls = 0;
  const goodErrors: string[] = [];
  let attacking = true;
  let firstCall: () => void = () => {};
  const firstAnswered = new Promise<void>((resolve) => (firstCall = resolve));
  const good = (async () => {
    for (let i = 0; attacking; i++) {
      try {
        const reply = (await client.invoke('Echo', { message: `good ${i}` })) as { message: string };
        if (reply.message !== `good ${i}`) goodErrors.push(`wrong answer to call ${i}: ${reply.message}`);
        goodCalls++;
        firstCall();
      } catch (error) {
        goodErrors.push((error as Error).message);
        firstCall();
      }
    }
  })();

  // A call that never settles would let the process end quietly (the client's deadline timers do
  // not hold it open): this timer holds it, and names the hang.
  const watchdog = setInterval(() => undefined, 60_000);
  const attacks: AttackResult[] = [];
  let mutated = { connections: 0, refused: 0, survived: 0 };
  try {
    await firstAnswered;
    const random = seededRandom(options.seed + 1);
    const attempt = async (name: string, run: () => Promise<AttackResult>) => {
      try {
        const result = await run();
        attacks.push(result);
        log(`  ${result.attack}: ${result.answer}${result.failures.length ? ` — FAILED: ${result.failures.join('; ')}` : ''}`);
      } catch (error) {
        attacks.push({ attack: name, answer: 'no answer', failures: [(error as Error).message] });
        log(`  ${name}: FAILED: ${(error as Error).message}`);
      }
    };
    for (let round = 0; round < (options.rounds ?? 1); round++) {
      await attempt('garbage HPACK', () => garbageHpack(port, ANSWER_TIMEOUT_MS));
      await attempt('malformed HEADERS', () => malformedHeaders(port, ANSWER_TIMEOUT_MS));
      await attempt('length prefix beyond the limit', () => lengthBeyondLimit(port, ANSWER_TIMEOUT_MS));
      await attempt('compressed flag without an encoding', () => compressedWithoutEncoding(port, ANSWER_TIMEOUT_MS));
      await attempt('RST_STREAM flood', () => rstFlood(port, options.rstStreams, ANSWER_TIMEOUT_MS));
      await attempt('SETTINGS flood', () => settingsFlood(port, options.settingsFrames, ANSWER_TIMEOUT_MS));
      await attempt('random message bytes', () => randomMessages(port, random, ANSWER_TIMEOUT_MS));
      await attempt('random frames', () => randomFrames(port, random, 30, ANSWER_TIMEOUT_MS));
    }
    mutated = await mutatedExchanges(port, options.seed, options.mutatedConnections, failures);
    log(`  mutated gRPC frames (seed ${options.seed}): ${mutated.connections} connections, ${mutated.refused} refused (GOAWAY or closed), ${mutated.survived} survived and answered a PING after the junk`);
  } finally {
    attacking = false;
    await good;
  }
  for (const attack of attacks) for (const failure of attack.failures) failures.push(`${attack.attack}: ${failure}`);
  if (goodCalls === 0) failures.push('the well-formed client made no call alongside the attacks');
  if (goodErrors.length > 0) failures.push(`the well-formed client failed ${goodErrors.length} of ${goodCalls + goodErrors.length} calls: ${goodErrors[0]}`);
  // Every attacking connection should be gone on the server's side too (the good client's is what
  // is left). Reported apart from `failures`: see `leakedConnections`. (No event for it: polled.)
  const leakedConnections = await waitFor(() => server.connectionCount <= 1, { timeoutMs: RELEASE_TIMEOUT_MS })
    .then(() => 0, () => server.connectionCount - 1);
  if (leakedConnections > 0) failures.push(`${leakedConnections} attack connections were still open on the server ${RELEASE_TIMEOUT_MS / 1000} s after the attacks`);
  failures.push(...(await stillServing(port, server.port)));
  await client.close();
  await grpc.close();
  // The graceful stop must end too: a session or call the attacks left behind would hold it.
  let stopTimer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    server.close({ graceMs: 1000 }).then(() => true),
    new Promise<false>((resolve) => (stopTimer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS))),
  ]);
  clearTimeout(stopTimer);
  clearInterval(watchdog);
  if (!stopped) failures.push(`server.close({ graceMs: 1000 }) had not finished ${CLOSE_TIMEOUT_MS / 1000} s later`);
  return { attacks, mutated, goodCalls, goodErrors, serverReports, leakedConnections, failures, seconds: (performance.now() - started) / 1000 };
}

/** Seeded mutated exchanges, 4 connections at a time, each followed by a PING that must come back (or a refusal). */
async function mutatedExchanges(port: number, seed: number, connections: number, failures: string[]) {
  const mutator = new GrpcFrameMutator(seededRandom(seed), port);
  const inputs = Array.from({ length: connections }, () => mutator.next());
  let next = 0;
  let refused = 0;
  let survived = 0;
  const sentinel = Buffer.from('sentinel');
  // After each input (its last frame completed with zeros if it was cut short or its length lied),
  // a PING: its ACK says the server read through the junk, a GOAWAY or a close that it refused it.
  // No answer is a hang.
  const ping = frame(FrameType.PING, 0, 0, sentinel);
  const pingAnswered = (frames: readonly h2.Frame[]) =>
    frames.some((f) => f.type === FrameType.PING && f.payload.equals(sentinel));
  const lane = async () => {
    while (next < inputs.length) {
      const index = next++;
      const socket = await RawHttp2Connection.open(port);
      try {
        socket.write(Buffer.concat([GrpcFrameMutator.completeFrames(inputs[index]!), ping]));
        const { frames } = await socket.until((f) => hasGoAway(f) || pingAnswered(f), ANSWER_TIMEOUT_MS, `mutated input ${index}`);
        if (pingAnswered(frames)) survived++;
        else refused++;
      } catch (error) {
        failures.push(`mutated input ${index} (seed ${seed}; hex ${inputs[index]!.toString('hex').slice(0, 200)}): ${(error as Error).message}`);
      } finally {
        socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  return { connections, refused, survived };
}

/** After the attacks: a new gRPC client and a native client both get answers. */
async function stillServing(grpcPort: number, nativePort: number): Promise<string[]> {
  const failures: string[] = [];
  const grpc = new GrpcClientTransport();
  const overGrpc = new RpcClient({ service: loadEchoService(), addresses: [`grpc://127.0.0.1:${grpcPort}`], transports: { grpc }, timeoutMs: 10_000 });
  const native = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${nativePort}`], timeoutMs: 10_000 });
  for (const [name, client] of [['gRPC', overGrpc], ['native', native]] as const) {
    try {
      const reply = (await client.invoke('Echo', { message: 'after' })) as { message: string };
      if (reply.message !== 'after') failures.push(`a new ${name} client got a wrong answer afterwards: ${reply.message}`);
    } catch (error) {
      failures.push(`a new ${name} client failed afterwards: ${(error as Error).message}`);
    } finally {
      await client.close();
    }
  }
  await grpc.close();
  return failures;
}
