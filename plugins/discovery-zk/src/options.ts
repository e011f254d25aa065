import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrellisError } from '@trellis/core';
import { ExponentialBackoff, invalidOption, RegistryPaths, type BackoffOptions } from '@trellis/core/spi';
import { BACKOFF_OPTIONS_SCHEMA, Type, defineFormat, parseOptions } from '@trellis/core/toolkit';
import { checkAcl, checkAuth, type ResolvedAuth, type ZooKeeperAcl, type ZooKeeperAuth } from './auth.js';

/** What the registry reports about its connection, for logs and metrics. */
export type ZooKeeperEvent =
  | { readonly type: 'connected'; readonly sessionId: string; readonly fresh: boolean }
  | { readonly type: 'disconnected' }
  | { readonly type: 'expired'; readonly sessionId: string; readonly reason: 'server' | 'disconnected-too-long' }
  /** Every registration was checked (and re-created where needed) on this session. */
  | { readonly type: 'resynced'; readonly sessionId: string; readonly registrations: number };

export interface ZooKeeperRegistryOptions {
  /** `host:port[,host:port…][/chroot]`, as for any ZooKeeper client. Required. */
  readonly connectString: string;
  /** Root of the Trellis tree (default `/trellis`). */
  readonly root?: string;
  /** Requested session timeout (default 15 000 ms); the server clamps it to 2–20 × its tickTime. */
  readonly sessionTimeoutMs?: number;
  /** Bounded wait for a session before start-up calls fail with ERR_REGISTRY_UNREACHABLE (default 3000 ms). */
  readonly connectTimeoutMs?: number;
  /** Window that merges bursts of provider changes into one notification (default 100 ms; 0 disables). */
  readonly debounceMs?: number;
  /** Where delivered provider lists are persisted (default `os.tmpdir()/trellis-snapshots`; false disables). */
  readonly snapshotDir?: string | false;
  /**
   * How many registry clients (sessions) share this ensemble (default 500). After an outage their
   * reconnects are spread over `fleetSize` × 6 ms (3 s for 500; at least 1 s, at most 60 s): the
   * default `backoff.maxMs`.
   */
  readonly fleetSize?: number;
  /**
   * Pacing of redials once every server of the ensemble refused, and of a new session after a lost one
   * (default 200 ms growing ×1.5 to the reconnect spread, ±50 % jitter). Redials never pause longer than a
   * third of the session timeout, whatever `maxMs` says.
   */
  readonly backoff?: BackoffOptions;
  /** Credentials added to every client the registry opens (re-created sessions included). Default: none. */
  readonly auth?: ZooKeeperAuth;
  /** ACL of every node the registry creates (default `open`); `creator-writes` requires `auth`. */
  readonly acl?: ZooKeeperAcl;
  /** Asynchronous problems (outages, expired sessions, malformed documents) as coded errors. Default: a process warning. */
  readonly onError?: (error: TrellisError) => void;
  /** Connection and session changes, for logs and metrics. */
  readonly onEvent?: (event: ZooKeeperEvent) => void;
}

export interface ResolvedOptions {
  readonly connectString: string;
  readonly root: string;
  readonly sessionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly debounceMs: number;
  readonly snapshotDir: string | false;
  readonly fleetSize: number;
  readonly backoff: BackoffOptions;
  /** The redial pacing: `backoff` with `maxMs` at most a third of the session timeout. */
  readonly redialBackoff: BackoffOptions;
  readonly auth: ResolvedAuth | undefined;
  readonly acl: ZooKeeperAcl;
  readonly onError: (error: TrellisError) => void;
  readonly onEvent: (event: ZooKeeperEvent) => void;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, multiplier: 1.5, jitter: 0.5 };

/**
 * The window a fleet's reconnects are spread over after an outage: 6 ms per registry client (3 s for
 * 500), so that at most a few percent of the fleet reconnects in any 100 ms; at least 1 s, at most 60 s.
 * The same rule as @trellis/discovery-etcd's (core allows no addition for it yet).
 */
export function reconnectSpreadMs(fleetSize: number): number {
  return Math.min(60_000, Math.max(1000, fleetSize * 6));
}
const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

export function isValidSegment(value: unknown): value is string {
  return typeof value === 'string' && SEGMENT.test(value) && value !== '.' && value !== '..';
}

function isValidPath(value: string): boolean {
  return value.startsWith('/') && value.length > 1 && value.slice(1).split('/').every(isValidSegment);
}

function checkConnectString(value: unknown): string {
  const expected = 'a string "host:port[,host:port…][/chroot]"';
  if (typeof value !== 'string' || value.trim() === '') throw invalidOption('connectString', value, expected);
  const slash = value.indexOf('/');
  const hosts = slash === -1 ? value : value.slice(0, slash);
  const chroot = slash === -1 ? '' : value.slice(slash);
  const valid =
    hosts.split(',').every((entry) => {
      const match = HOST_PORT.exec(entry.trim());
      return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535;
    }) && (chroot === '' || isValidPath(chroot));
  if (!valid) throw invalidOption('connectString', value, expected);
  return value;
}

const ZK_PATH_FORMAT = 'trellis-zookeeper-path';
defineFormat(ZK_PATH_FORMAT, (value) => (isValidPath(value) ? undefined : 'is not an absolute ZooKeeper path'));

function ms(min: number, max: number) {
  return Type.Optional(Type.Number({ minimum: min, maximum: max, description: `a number in ${min}..${max} (ms)` }));
}

const hook = Type.Optional(Type.Function([], Type.Unknown(), { description: 'a function' }));

/** What a schema can say; the connect string and auth are parsed below. */
const ZooKeeperOptionsSchema = Type.Object({
  root: Type.Optional(Type.String({
    format: ZK_PATH_FORMAT,
    description: 'an absolute ZooKeeper path like "/trellis" (letters, digits, "_", "." and "-", no trailing "/")',
  })),
  snapshotDir: Type.Optional(Type.Union([Type.Literal(false), Type.String({ minLength: 1 })], { description: 'a directory path or false' })),
  onError: hook,
  onEvent: hook,
  fleetSize: Type.Optional(Type.Integer({ minimum: 1, description: 'a whole number of registry clients ≥ 1' })),
  sessionTimeoutMs: ms(100, 600_000),
  connectTimeoutMs: ms(1, 600_000),
  debounceMs: ms(0, 60_000),
  // Parsed below; listed so a misspelt key is refused with a "did you mean" hint instead of ignored.
  connectString: Type.Optional(Type.Unknown()),
  backoff: Type.Optional(BACKOFF_OPTIONS_SCHEMA),
  auth: Type.Optional(Type.Unknown()),
  acl: Type.Optional(Type.Unknown()),
}, { additionalProperties: false });

/** Validates everything up front so a typo fails at construction, not at the first outage. */
export function resolveOptions(options: ZooKeeperRegistryOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', options, 'an object with at least connectString');
  }
  parseOptions(ZooKeeperOptionsSchema, options);
  const root = options.root ?? RegistryPaths.DEFAULT_ROOT;
  const snapshotDir = options.snapshotDir ?? join(tmpdir(), 'trellis-snapshots');
  const fleetSize = options.fleetSize ?? 500;
  const backoff = { ...DEFAULT_BACKOFF, maxMs: reconnectSpreadMs(fleetSize), ...options.backoff };
  new ExponentialBackoff(backoff); // throws ERR_INVALID_OPTION naming the bad backoff field
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 15_000;
  // After an outage the server restores every session with a full timeout: the redials of a fleet must
  // land well inside it, or the sessions the pacing was meant to save expire anyway.
  const redialCapMs = sessionTimeoutMs / 3;
  const redialBackoff = {
    ...backoff,
    maxMs: Math.min(backoff.maxMs ?? redialCapMs, redialCapMs),
    initialMs: Math.min(backoff.initialMs ?? 200, redialCapMs),
  };
  const auth = checkAuth(options.auth);
  return {
    connectString: checkConnectString(options.connectString),
    root,
    sessionTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? 3000,
    debounceMs: options.debounceMs ?? 100,
    snapshotDir,
    fleetSize,
    backoff,
    redialBackoff,
    auth,
    acl: checkAcl(options.acl, auth),
    onError: guarded(options.onError ?? defaultOnError),
    onEvent: guarded(options.onEvent),
  };
}

function defaultOnError(error: TrellisError): void {
  process.emitWarning(error.message, { code: error.code });
}

/** A throwing user hook must not become an unhandled rejection inside the registry. */
function guarded<T>(hook: ((value: T) => void) | undefined): (value: T) => void {
  if (!hook) return () => undefined;
  return (value) => {
    try {
      hook(value);
    } catch {
      // Ignored: the registry keeps working whatever the observer does.
    }
  };
}
