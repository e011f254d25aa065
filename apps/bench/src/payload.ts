import { join } from 'node:path';

export const BENCH_PROTO = join(__dirname, '..', 'protos', 'bench.proto');

/** The echoed message (`bench.EchoRequest`): a 100-character string, an int64 id and 10 values. */
export interface EchoRequest {
  readonly message: string;
  readonly id: number;
  readonly values: readonly number[];
}

const MESSAGE = 'x'.repeat(100);
const VALUES: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/**
 * The request a caller sends. The closed loop builds one per slot and sends it on every call of that
 * slot: every kind still encodes it on every call (the work under test), but the loop itself adds no
 * garbage that one kind would pay for and another not.
 */
export function makeRequest(id: number): EchoRequest {
  return { message: MESSAGE, id, values: VALUES };
}

/**
 * Checked once per client before any timed round: the echo must come back field for field (an int64
 * past 2^32, so a kind that truncates longs fails). Any kind's decoded form is accepted: int64 as a
 * string (Trellis, grpc-js), a Long (protobufjs) or a number.
 */
export const CHECK_REQUEST: EchoRequest = { message: 'check-échø', id: 123_456_789_012, values: [-1, 0, 2_147_483_647] };

export function echoMismatch(response: unknown): string | undefined {
  const r = response as { message?: unknown; id?: unknown; values?: unknown } | undefined;
  if (r === null || typeof r !== 'object') return `expected an echoed message, got ${String(response)}`;
  if (r.message !== CHECK_REQUEST.message) return `message: expected ${JSON.stringify(CHECK_REQUEST.message)}, got ${JSON.stringify(r.message)}`;
  if (String(r.id) !== String(CHECK_REQUEST.id)) return `id: expected ${CHECK_REQUEST.id}, got ${String(r.id)}`;
  if (!Array.isArray(r.values) || r.values.join(',') !== CHECK_REQUEST.values.join(',')) return `values: expected [${CHECK_REQUEST.values.join(',')}], got ${JSON.stringify(r.values)}`;
  return undefined;
}
