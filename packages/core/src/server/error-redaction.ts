import { randomUUID } from 'node:crypto';
import { Code, RpcError } from '../errors.js';
import { MetadataKeys } from '../metadata.js';

/**
 * A handler (or server interceptor) failed with something other than an RpcError, and the caller was
 * sent only a correlation id (`redactErrors`). This is what the server's `onError` receives: the
 * id the caller got, the method, and the original error as `cause`.
 */
export class HandlerError extends Error {
  override readonly name = 'HandlerError';

  constructor(
    /** The id sent to the caller in the message and in the `trellis-error-id` trailer. */
    readonly errorId: string,
    /** `package.Service/Method`. */
    readonly method: string,
    cause: unknown,
  ) {
    super(`${method} failed (error id ${errorId}): ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
  }
}

/**
 * What the caller gets for an error thrown by server code. An RpcError is sent as it is: its code
 * and message are meant for callers. Anything else is an unexpected failure whose message may hold
 * internals (a connection string, a file path); with redaction on, the caller gets UNKNOWN with a
 * correlation id only, and the full error goes to `report` under the same id.
 */
export function errorForCaller(error: unknown, redact: boolean, method: string, report: (error: HandlerError) => void): RpcError {
  if (error instanceof RpcError) return error;
  if (!redact) return RpcError.from(error);
  const id = randomUUID();
  report(new HandlerError(id, method, error));
  return new RpcError(Code.UNKNOWN, `internal error (id ${id})`, { metadata: new Map([[MetadataKeys.ERROR_ID, id]]) });
}
