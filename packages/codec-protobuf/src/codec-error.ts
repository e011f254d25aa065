/**
 * Thrown by a codec when a message cannot be encoded (wrong shape) or decoded (malformed bytes).
 * It names the message type, because protobufjs's own messages ("index out of range: 3 + 10 > 5")
 * do not say which message failed. The kernel maps a decode failure to INVALID_ARGUMENT on the server.
 */
export class ProtoCodecError extends Error {
  override readonly name = 'ProtoCodecError';
  /** Fully qualified message type, e.g. `trellis.test.EchoRequest`. */
  readonly typeName: string;
  readonly operation: 'encode' | 'decode';

  constructor(operation: 'encode' | 'decode', typeName: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`cannot ${operation} ${typeName}: ${reason}`, { cause });
    this.typeName = typeName;
    this.operation = operation;
  }
}
