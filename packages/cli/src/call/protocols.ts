/**
 * `--protocol` choices, known without loading any transport (the help lists them). transports.ts
 * maps each to its CallTransport; a test keeps the two lists equal.
 */
export const PROTOCOLS = ['trellis'] as const;
