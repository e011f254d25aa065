import { join } from 'node:path';

export const BENCH_PROTO = join(__dirname, '..', 'protos', 'bench.proto');

/** The echoed request: a 100-character string, an int64 id and 10 values. */
export function makeRequest(id: number): { message: string; id: number; values: number[] } {
  return { message: 'x'.repeat(100), id, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] };
}
