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
 * Request metadata every call of one client carries (`ClientPluginContext.addRequestMetadata`: a
 * fixed credential, the `caller` option), as one read-only map shared by the client's calls. A call
 * that never touches its metadata sends this very map, so the entries cost no Map per call, and the
 * transport encodes them once (header-codec.ts keeps the encoded block of the last fixed map it saw).
 * A call whose metadata is read or given gets its own Map with these entries copied in.
 */
export class FixedMetadata extends Map<string, string> {
  private sealed: boolean;

  constructor(entries: Iterable<readonly [string, string]>) {
    super(entries);
    this.sealed = true;
  }

  override set(key: string, value: string): this {
    if (this.sealed) throw new TypeError(`cannot set metadata "${key}" on a client's fixed request metadata: add entries to invocation.metadata before the call is sent`);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    throw new TypeError(`cannot delete metadata "${key}" from a client's fixed request metadata`);
  }

  override clear(): void {
    throw new TypeError('cannot clear a client\'s fixed request metadata');
  }
}

/** The fixed metadata of a client that has none: what its calls send when they carry no entries. */
export const NO_METADATA: FixedMetadata = new FixedMetadata([]);
