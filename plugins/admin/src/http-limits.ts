import type { Server, ServerOptions } from 'node:http';

/**
 * How long the console's HTTP server waits for a client and how many it holds at once. Node's own
 * defaults are a public web server's (60 s for the headers, 300 s for a request, no connection
 * cap): an operator console has a handful of browser tabs, and a console bound beyond loopback must
 * not be held open by a client dripping bytes (slowloris) or by thousands of idle sockets.
 */
export interface ConsoleHttpLimits {
  /** A request's line and headers must arrive within this (else 408 and the connection closes). */
  readonly headersTimeoutMs: number;
  /**
   * The whole request, body included, must arrive within this. It ends when the request has been
   * received: a slow answer (a worker group's read-out) is not cut by it.
   */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (the page polls every 1–2 s on it). */
  readonly keepAliveTimeoutMs: number;
  /** Connections held at once; one more is closed as soon as it is accepted. */
  readonly maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: ConsoleHttpLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 64,
};

/**
 * The createServer options carrying the deadlines. Node checks them on a timer that runs every 30 s
 * by default, which would let a 5 s deadline run to 35 s: it runs here at least once a second.
 */
export function httpServerOptions(limits: ConsoleHttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.headersTimeoutMs / 2)),
  };
}

/** The limits Node sets as properties rather than createServer options. */
export function applyConnectionLimits(server: Server, limits: ConsoleHttpLimits): void {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
}
