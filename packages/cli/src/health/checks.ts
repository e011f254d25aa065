import { performance } from 'node:perf_hooks';
import { TcpClientTransport } from '@trellis/core';
import { endpointId, type Endpoint } from '@trellis/core/spi';
import { DialFailures } from '../call/dial-failures.js';
import { GRPC_PROTOCOLS } from '../call/protocols.js';
import { grpcUrl } from '../target.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A provider to check, with the protocol it serves (instance document, or the target's scheme). */
export interface CheckTarget extends HostPort {
  readonly protocol?: string;
}

/**
 * One health check's verdict. `check` names how it was asked (`ping` over the native protocol,
 * `h2-ping` an HTTP/2 PING to a gRPC server, `http` for @trellis/health's endpoint).
 */
export interface CheckResult {
  readonly check: 'ping' | 'h2-ping' | 'http';
  readonly target: string;
  readonly ok: boolean;
  /** ping: `UP`, `UNREACHABLE`, `TIMEOUT`; http: `SERVING`, `NOT_SERVING`, `UNREACHABLE`, `TIMEOUT`, `HTTP <status>`. */
  readonly status: string;
  readonly detail?: string;
  /** Round trips of the pings after the first (which also dials), ms. */
  readonly rttMs?: readonly number[];
  /** The first PING, dial included (ms). */
  readonly firstMs?: number;
}

function endpoint(target: HostPort): Endpoint {
  return { id: endpointId(target.host, target.port), host: target.host, port: target.port, weight: 100, version: '*', tags: {} };
}

/**
 * Liveness of each target over the protocol it serves: an HTTP/2 PING for gRPC providers (`grpc`,
 * `grpcs`), the native PING for the others. Results in the order of `targets`.
 */
export async function livenessCheck(targets: readonly CheckTarget[], options: { timeoutMs: number; count: number }): Promise<CheckResult[]> {
  const grpc = targets.map((t, i) => [t, i] as const).filter(([t]) => t.protocol !== undefined && GRPC_PROTOCOLS.has(t.protocol));
  const native = targets.map((t, i) => [t, i] as const).filter(([t]) => t.protocol === undefined || !GRPC_PROTOCOLS.has(t.protocol));
  const [grpcResults, nativeResults] = await Promise.all([
    grpc.length === 0 ? [] : http2PingCheck(grpc.map(([t]) => t), options),
    native.length === 0 ? [] : pingCheck(native.map(([t]) => t), options),
  ]);
  const out: CheckResult[] = new Array(targets.length);
  grpc.forEach(([, i], k) => (out[i] = grpcResults[k]!));
  native.forEach(([, i], k) => (out[i] = nativeResults[k]!));
  return out;
}

/**
 * HTTP/2 PINGs to gRPC servers through @trellis/transport-grpc's client engine: the connection is
 * up and the server's HTTP/2 layer answers. A `grpcs` server's certificate is not verified: a
 * liveness probe sends no request and reads no data.
 */
export async function http2PingCheck(targets: readonly CheckTarget[], options: { timeoutMs: number; count: number }): Promise<CheckResult[]> {
  const { GrpcClient } = await import('@trellis/transport-grpc');
  // A refused or failed dial shows as a PING timeout; the channel's state change says why.
  const dials = new DialFailures();
  const client = new GrpcClient({ connectTimeoutMs: options.timeoutMs, tls: { rejectUnauthorized: false }, onStateChange: dials.onStateChange });
  try {
    return await Promise.all(targets.map(async (target): Promise<CheckResult> => {
      const { url, display } = grpcUrl(target, target.protocol === 'grpcs');
      const channel = client.channel(url);
      const started = performance.now();
      try {
        await channel.ping(options.timeoutMs);
        const firstMs = performance.now() - started;
        const rttMs: number[] = [];
        for (let i = 1; i < options.count; i++) rttMs.push(await channel.ping(options.timeoutMs));
        return { check: 'h2-ping', target: display, ok: true, status: 'UP', firstMs, rttMs };
      } catch (error) {
        const dial = dials.reason(display);
        if (dial !== undefined) return { check: 'h2-ping', target: display, ok: false, status: 'UNREACHABLE', detail: dial };
        const message = (error as Error).message;
        return { check: 'h2-ping', target: display, ok: false, status: /within \d+ ms|timed? ?out/i.test(message) ? 'TIMEOUT' : 'UNREACHABLE', detail: message };
      }
    }));
  } finally {
    client.close();
  }
}

/**
 * PING/PONG over the native protocol (docs/protocol.md), through core's TCP transport — the
 * heartbeat @trellis/health's consumers send. A PONG means the process is up and its event loop
 * answers; it does not say whether the provider is draining (then it refuses new connections).
 */
export async function pingCheck(targets: readonly HostPort[], options: { timeoutMs: number; count: number; concurrency?: number }): Promise<CheckResult[]> {
  const transport = new TcpClientTransport({ connectTimeoutMs: options.timeoutMs });
  try {
    const results: CheckResult[] = new Array(targets.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < targets.length) {
        const i = next++;
        results[i] = await pingOne(transport, targets[i]!, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 32, targets.length) }, worker));
    return results;
  } finally {
    await transport.close();
  }
}

async function pingOne(transport: TcpClientTransport, target: HostPort, options: { timeoutMs: number; count: number }): Promise<CheckResult> {
  const ep = endpoint(target);
  const started = performance.now();
  try {
    await transport.ping(ep, options.timeoutMs);
    const firstMs = performance.now() - started;
    const rttMs: number[] = [];
    for (let i = 1; i < options.count; i++) rttMs.push(await transport.ping(ep, options.timeoutMs));
    return { check: 'ping', target: ep.id, ok: true, status: 'UP', firstMs, rttMs };
  } catch (error) {
    const message = (error as Error).message;
    const timedOut = /within \d+ ms|timed? ?out/i.test(message);
    return { check: 'ping', target: ep.id, ok: false, status: timedOut ? 'TIMEOUT' : 'UNREACHABLE', detail: message };
  }
}

/**
 * GET on @trellis/health's HTTP endpoint (`health({ http: { port } })`): 200 `SERVING`, 503
 * `NOT_SERVING` (not ready yet, shutting down, or held out by setServing(false)).
 */
export async function httpCheck(url: string, timeoutMs: number): Promise<CheckResult> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' } });
    const body = (await response.text()).trim();
    const status = response.status === 200 || response.status === 503 ? body || `HTTP ${response.status}` : `HTTP ${response.status}`;
    return { check: 'http', target: url, ok: response.status === 200, status, ...(response.status === 200 ? {} : { detail: `${url} answered ${response.status}` }) };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const timedOut = (error as Error).name === 'TimeoutError';
    return {
      check: 'http', target: url, ok: false, status: timedOut ? 'TIMEOUT' : 'UNREACHABLE',
      detail: timedOut ? `no answer within ${timeoutMs} ms` : cause?.code ?? cause?.message ?? (error as Error).message,
    };
  }
}

/** `8081` → http://{host}:8081/health; `:8081/ready`, `http://…` as given. */
export function healthUrl(value: string, host: string): string {
  if (/^https?:\/\//.test(value)) return value;
  const match = /^:?(\d{1,5})(\/.*)?$/.exec(value);
  if (match === null) return '';
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `http://${shownHost}:${match[1]}${match[2] ?? '/health'}`;
}

/** `0.41 ms`, `12 ms`. */
export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}
