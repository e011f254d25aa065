import { Type, invalidOption, parseOptions } from '@trellis/core/toolkit';
import { DEFAULT_HTTP_LIMITS, type ConsoleHttpLimits } from './http-limits.js';

export interface AdminOptions {
  /** HTTP port of the console; 0 picks a free one (read it from `plugin.url`). Default 0. */
  readonly port?: number;
  /** Interface to bind. Default `127.0.0.1`: the console is for operators on the machine (or an SSH tunnel). */
  readonly host?: string;
  /**
   * Bearer token every API request must carry (`Authorization: Bearer …`). Without it the read API is
   * open to whoever can reach `host` (loopback by default); writes always need `writeToken`.
   */
  readonly token?: string;
  /** Bearer token that may also write (save rule documents). Without it the console is read-only. */
  readonly writeToken?: string;
  /** Seconds of per-method history kept for the charts (default 300: the last 5 minutes). */
  readonly historySeconds?: number;
  /**
   * On a server: the console URL published in its instance documents (tag `trellis.admin`), so the
   * registry-wide console (`trellis console --registry …`) links each provider to its own console.
   * Default: the URL the console listens on; set it when operators reach the console through another
   * address (a tunnel, a proxy); `false` publishes nothing.
   */
  readonly advertiseUrl?: string | false;
  /** A request's line and headers must arrive within this many ms, else 408 and close (default 5000). */
  readonly headersTimeoutMs?: number;
  /** A whole request, body included, must arrive within this many ms (default 15000); answers are not cut by it. */
  readonly requestTimeoutMs?: number;
  /** An idle keep-alive connection closes after this many ms (default 5000). */
  readonly keepAliveTimeoutMs?: number;
  /** Connections held at once; more are closed as they are accepted (default 64). */
  readonly maxConnections?: number;
}

export interface ResolvedAdminOptions {
  readonly port: number;
  readonly host: string;
  readonly token: string | undefined;
  readonly writeToken: string | undefined;
  readonly historySeconds: number;
  readonly advertiseUrl: string | false | undefined;
  readonly limits: ConsoleHttpLimits;
}

/**
 * The options' shape on the project's one schema layer (`@trellis/core/toolkit`). The tokens are
 * checked by hand after it: a schema error message shows the value given, and a token must never
 * appear in a message or a log.
 */
const AdminOptionsSchema = Type.Object({
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'an integer from 0 to 65535' })),
  host: Type.Optional(Type.String({ minLength: 1, description: 'an interface address such as 127.0.0.1' })),
  token: Type.Optional(Type.Unknown()),
  writeToken: Type.Optional(Type.Unknown()),
  historySeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600, description: 'an integer from 10 to 3600' })),
  advertiseUrl: Type.Optional(Type.Union([Type.Literal(false), Type.String({ pattern: '^https?://\\S+$' })], { description: 'an http:// or https:// URL, or false' })),
  headersTimeoutMs: Type.Optional(Type.Integer({ minimum: 500, maximum: 60_000, description: 'an integer from 500 to 60000 (ms)' })),
  requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 600_000, description: 'an integer from 1000 to 600000 (ms)' })),
  keepAliveTimeoutMs: Type.Optional(Type.Integer({ minimum: 500, maximum: 600_000, description: 'an integer from 500 to 600000 (ms)' })),
  maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'an integer from 1 to 10000' })),
}, { additionalProperties: false });

function tokenOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  // Short tokens are guessable over a loopback port in minutes; header-unsafe ones would never match.
  if (typeof value !== 'string' || value.length < 16 || !/^[\x21-\x7e]+$/.test(value)) {
    throw invalidOption(name, '(hidden)', 'a string of at least 16 printable ASCII characters (e.g. crypto.randomBytes(24).toString("base64url"))', 'admin');
  }
  return value;
}

export function resolveAdminOptions(options: AdminOptions): ResolvedAdminOptions {
  parseOptions(AdminOptionsSchema, options, 'admin');
  const { port = 0, host = '127.0.0.1', historySeconds = 300, advertiseUrl } = options;
  const token = tokenOption('token', options.token);
  const writeToken = tokenOption('writeToken', options.writeToken);
  if (token !== undefined && writeToken !== undefined && token === writeToken) {
    throw invalidOption('writeToken', '(hidden)', 'a token other than `token` (the read token must not grant writes)', 'admin');
  }
  const {
    headersTimeoutMs = DEFAULT_HTTP_LIMITS.headersTimeoutMs, requestTimeoutMs = DEFAULT_HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeoutMs = DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs, maxConnections = DEFAULT_HTTP_LIMITS.maxConnections,
  } = options;
  // The headers are part of the request: Node refuses a headers deadline past the request's.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw invalidOption('headersTimeoutMs', headersTimeoutMs, `at most requestTimeoutMs (${requestTimeoutMs})`, 'admin');
  }
  return { port, host, token, writeToken, historySeconds, advertiseUrl, limits: { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections } };
}
