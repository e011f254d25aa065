/**
 * `grpc-timeout`: 1–8 ASCII digits and a unit (H hours, M minutes, S seconds, m milliseconds,
 * u microseconds, n nanoseconds). Parsed into milliseconds; undefined when malformed.
 */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

export function parseGrpcTimeout(value: string): number | undefined {
  const length = value.length;
  if (length < 2 || length > 9) return undefined;
  const unit = UNIT_MS[value[length - 1]!];
  if (unit === undefined) return undefined;
  let n = 0;
  for (let i = 0; i < length - 1; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n * unit;
}

/**
 * The shortest exact-enough encoding of `ms`: milliseconds while they fit in 8 digits (27 hours),
 * then seconds, minutes, hours (rounded up, so a deadline is never made shorter by the encoding).
 */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 100_000_000) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  if (seconds < 100_000_000) return `${seconds}S`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 100_000_000) return `${minutes}M`;
  return `${Math.min(99_999_999, Math.ceil(minutes / 60))}H`;
}
