/**
 * Call metadata (headers) travelling with a request, and trailers with a response. Keys are
 * lower-case ASCII; values are strings. A plain Map keeps the hot path free of copies: interceptors
 * may add entries before the call is written.
 */
export type Metadata = Map<string, string>;

export function createMetadata(init?: Iterable<readonly [string, string]> | Record<string, string>): Metadata {
  if (init === undefined) return new Map();
  if (Symbol.iterator in Object(init)) return new Map(init as Iterable<[string, string]>);
  return new Map(Object.entries(init as Record<string, string>));
}

/** Metadata keys the kernel itself writes; plugins must not reuse the `trellis-` prefix. */
export const MetadataKeys = {
  /** Which attempt this request is (1 = first). Retry and tracing read it on the server. */
  ATTEMPT: 'trellis-attempt',
  /** The caller's service name, for per-caller rate limits and logs. */
  CALLER: 'trellis-caller',
  /** Trailer of a redacted error: the id under which the server reported it (RpcServer `redactErrors`). */
  ERROR_ID: 'trellis-error-id',
} as const;

/**
 * The metadata a request carries when its call has none: one shared map, so a call that never
 * touches its metadata costs no Map. It is read-only: writing to it throws (a transport reads the
 * request's metadata, it does not add to it; an interceptor adds to `invocation.metadata`).
 */
class NoMetadata extends Map<string, string> {
  override set(key: string): this {
    throw new TypeError(`cannot set metadata "${key}" on a request that carries none: add entries to invocation.metadata before the call is sent`);
  }
}

export const NO_METADATA: Metadata = new NoMetadata();
