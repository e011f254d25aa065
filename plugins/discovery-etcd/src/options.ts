import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Interceptor } from '@grpc/grpc-js';
import { TrellisError } from '@trellis/core';
import { ExponentialBackoff, RegistryPaths, type BackoffOptions } from '@trellis/core/spi';
import { BACKOFF_OPTIONS_SCHEMA, Type, parseOptions } from '@trellis/core/toolkit';
import { invalidOption } from './errors.js';

export interface EtcdRegistryOptions {
  /** etcd client URLs: `http://host:port`, a comma-separated string or an array (default `http://127.0.0.1:2379`). */
  readonly endpoints?: string | readonly string[];
  /** Key prefix all Trellis keys live under (default `/trellis`). */
  readonly root?: string;
  /** Lease TTL in whole seconds (default 10): how long a crashed provider stays listed. */
  readonly ttlSeconds?: number;
  /** How long a fresh registry tries to reach etcd before register() fails, and before a consumer falls back to its snapshot (default 3000 ms). */
  readonly connectTimeoutMs?: number;
  /** Deadline of every single etcd request (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** How often the lease and our keys are verified, besides the keepalives (default: the TTL). */
  readonly checkIntervalMs?: number;
  /** Window that merges a burst of provider changes into one notification (default 100 ms). */
  readonly debounceMs?: number;
  /** Where the last known provider lists are kept for a start while etcd is down; `false` disables (default `<tmpdir>/trellis-snapshots`). */
  readonly snapshotDir?: string | false;
  /**
   * How many registry clients (processes) share this etcd cluster (default 500). After an outage their
   * reconnects are spread over `fleetSize` × 6 ms (3 s for 500, at least 1 s, at most 60 s): the default
   * `backoff.maxMs`.
   */
  readonly fleetSize?: number;
  /**
   * Reconnect / retry pacing (default: 200 ms growing ×1.5 to the reconnect spread, ±50 % jitter). The lease
   * keepalive never waits longer than a third of the TTL between tries, whatever `maxMs` says.
   */
  readonly backoff?: BackoffOptions;
  /** Extra etcd3 client options: TLS `credentials`, `auth`, `grpcOptions`. */
  readonly client?: EtcdClientExtras;
  /** Where asynchronous problems are reported (outages, lost leases, malformed documents). Default: a process warning. */
  readonly onError?: (error: TrellisError) => void;
}

export interface EtcdClientExtras {
  readonly credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  readonly auth?: { username: string; password: string };
  readonly grpcOptions?: Readonly<Record<string, string | number>>;
  /** gRPC client interceptors, after the registry's own (which asks etcd to require a leader). */
  readonly interceptors?: readonly Interceptor[];
}

export interface ResolvedEtcdRegistryOptions {
  readonly endpoints: readonly string[];
  readonly root: string;
  readonly ttlSeconds: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly checkIntervalMs: number;
  readonly debounceMs: number;
  readonly snapshotDir: string | false;
  readonly fleetSize: number;
  readonly backoff: BackoffOptions;
  /** The backoff of the lease keepalive: `backoff` with `maxMs` at most a third of the TTL. */
  readonly leaseBackoff: BackoffOptions;
  readonly client: EtcdClientExtras;
  readonly onError: (error: TrellisError) => void;
}

/**
 * The window a fleet's reconnects are spread over after an outage: 6 ms per registry client (3 s for
 * 500), so that at most a few percent of the fleet reconnects in any 100 ms; at least 1 s, at most 60 s.
 * The same rule as @trellis/discovery-zk's (core allows no addition for it yet).
 */
export function reconnectSpreadMs(fleetSize: number): number {
  return Math.min(60_000, Math.max(1000, fleetSize * 6));
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, multiplier: 1.5, jitter: 0.5 };

const PositiveMs = Type.Number({ exclusiveMinimum: 0, description: 'a positive number of milliseconds' });

/** What a schema can say; the endpoints (a string or a list, one scheme) are parsed below. */
const EtcdOptionsSchema = Type.Object({
  root: Type.Optional(Type.String({ pattern: '^(/[A-Za-z0-9_.-]+)+$', description: 'a key prefix like "/trellis" (leading "/", no trailing "/")' })),
  // etcd silently raises a TTL below its minimum (1.5 × election timeout, 2 s by default).
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 2, description: 'a whole number of seconds ≥ 2' })),
  connectTimeoutMs: Type.Optional(PositiveMs),
  requestTimeoutMs: Type.Optional(PositiveMs),
  checkIntervalMs: Type.Optional(PositiveMs),
  debounceMs: Type.Optional(Type.Number({ minimum: 0, description: 'a number of milliseconds ≥ 0' })),
  snapshotDir: Type.Optional(Type.Union([Type.Literal(false), Type.String({ minLength: 1 })], { description: 'a directory path, or false to disable snapshots' })),
  fleetSize: Type.Optional(Type.Integer({ minimum: 1, description: 'a whole number of registry clients ≥ 1' })),
  // Parsed below (endpoints; backoff's values by ExponentialBackoff) or handed through to the etcd
  // client (client, left open); listed so a misspelt key is refused with a "did you mean" hint
  // instead of ignored in silence.
  endpoints: Type.Optional(Type.Unknown()),
  backoff: Type.Optional(BACKOFF_OPTIONS_SCHEMA),
  client: Type.Optional(Type.Unknown()),
  onError: Type.Optional(Type.Function([Type.Unknown()], Type.Unknown(), { description: 'a function (error) => void' })),
}, { additionalProperties: false });

/** Validates everything up front, so a typo fails at start-up with a sentence saying what to change. */
export function resolveOptions(options: EtcdRegistryOptions = {}): ResolvedEtcdRegistryOptions {
  parseOptions(EtcdOptionsSchema, options);
  const ttlSeconds = options.ttlSeconds ?? 10;
  const fleetSize = options.fleetSize ?? 500;
  const backoff = { ...DEFAULT_BACKOFF, maxMs: reconnectSpreadMs(fleetSize), ...options.backoff };
  new ExponentialBackoff(backoff); // throws ERR_INVALID_OPTION on a bad backoff
  // A keepalive that fails must be tried again well before the lease runs out: after an outage etcd
  // restores leases with a full TTL, and the fleet's keepalives must land inside it.
  const leaseCapMs = (ttlSeconds * 1000) / 3;
  const leaseBackoff = { ...backoff, maxMs: Math.min(backoff.maxMs ?? leaseCapMs, leaseCapMs), initialMs: Math.min(backoff.initialMs ?? 200, leaseCapMs) };
  return {
    endpoints: parseEndpoints(options.endpoints ?? 'http://127.0.0.1:2379'),
    root: options.root ?? RegistryPaths.DEFAULT_ROOT,
    ttlSeconds,
    connectTimeoutMs: options.connectTimeoutMs ?? 3000,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    checkIntervalMs: options.checkIntervalMs ?? ttlSeconds * 1000,
    debounceMs: options.debounceMs ?? 100,
    snapshotDir: options.snapshotDir ?? join(tmpdir(), 'trellis-snapshots'),
    fleetSize,
    backoff,
    leaseBackoff,
    client: options.client ?? {},
    onError: options.onError ?? defaultOnError,
  };
}

function parseEndpoints(value: unknown): readonly string[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  const expected = 'etcd client URLs like "http://127.0.0.1:2379" (a string, comma-separated, or an array)';
  if (!Array.isArray(list) || list.length === 0) throw invalidOption('endpoints', value, expected);
  for (const entry of list) {
    if (typeof entry !== 'string' || !isEndpointUrl(entry)) throw invalidOption('endpoints', value, expected);
  }
  const secure = list.filter((e: string) => e.startsWith('https:')).length;
  if (secure !== 0 && secure !== list.length) {
    throw invalidOption('endpoints', value, 'all http:// or all https:// URLs, not a mix');
  }
  return list as string[];
}

function isEndpointUrl(entry: string): boolean {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.port !== '' &&
    (url.pathname === '/' || url.pathname === '') && url.search === '' && url.username === '';
}

function defaultOnError(error: TrellisError): void {
  process.emitWarning(error.message, { code: error.code });
}
