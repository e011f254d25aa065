/**
 * The interop test cases as named in gRPC's "Interoperability Test Case Descriptions", each with the
 * procedure and the client assertions the descriptions give. Case lists are shared by every driver
 * (the Trellis client here, grpc-js-client.ts, python/interop_client.py).
 */
export const INTEROP_CASES = [
  'empty_unary', 'large_unary', 'client_compressed_unary', 'server_compressed_unary', 'client_streaming',
  'server_streaming', 'ping_pong', 'empty_stream', 'custom_metadata', 'status_code_and_message',
  'special_status_message', 'unimplemented_method', 'unimplemented_service', 'timeout_on_sleeping_server',
  'cancel_after_begin', 'cancel_after_first_response',
] as const;

export type InteropCase = (typeof INTEROP_CASES)[number];

export const REQUEST_SIZES = [27182, 8, 1828, 45904];
export const RESPONSE_SIZES = [31415, 9, 2653, 58979];
export const SPECIAL_STATUS_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';
export const ECHO_INITIAL = 'x-grpc-test-echo-initial';
export const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
export const INITIAL_VALUE = 'test_initial_metadata_value';
export const TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);

/** A case that takes longer has hung (each takes well under a second even on a loaded machine). */
export const CASE_TIMEOUT_MS = 30_000;

/** What a driver reports per case. */
export interface CaseResult {
  readonly case: string;
  readonly ok: boolean;
  readonly error?: string;
}
