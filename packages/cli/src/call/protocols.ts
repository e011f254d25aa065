/**
 * `--protocol` choices, known without loading any transport (the help lists them). transports.ts
 * maps each to its CallTransport; a test keeps the two lists equal.
 */
export const PROTOCOLS = ['trellis', 'grpc'] as const;

/** The protocols whose providers `trellis call` reaches through the gRPC transport (instance documents say `grpc` or `grpcs`). */
export const GRPC_PROTOCOLS: ReadonlySet<string> = new Set(['grpc', 'grpcs']);
