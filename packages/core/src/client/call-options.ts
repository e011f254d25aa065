import type { Metadata } from '../metadata.js';

/** Per-call options, the last argument of every typed client method. */
export interface CallOptions {
  /** Overrides the client's and the method's default timeout. */
  readonly timeoutMs?: number;
  /** Request metadata (headers); a Map or a plain object. */
  readonly metadata?: Metadata | Readonly<Record<string, string>>;
  /** Cancels the call: the caller gets CANCELLED and the server's handler signal fires. */
  readonly signal?: AbortSignal;
  /** Overrides the method's idempotency for this call (retry reads it). */
  readonly idempotent?: boolean;
}
