/**
 * A process warning at most `perWindow` times per `windowMs`; the lines held back are counted and
 * said in one line when the next window opens. Why: a listener's default report of a refused or
 * broken connection is one warning per connection, and under attack (thousands of half-open or
 * junk-sending connections) one line each would flood the log — the attacker chooses its size.
 * The TCP transport and the gRPC listener both report through this, so both floods look the same.
 */
export function rateLimitedWarning(
  type: string,
  what: string,
  perWindow = 10,
  windowMs = 10_000,
): (message: string) => void {
  let windowStart = 0;
  let shown = 0;
  let suppressed = 0;
  return (message) => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      if (suppressed > 0) process.emitWarning(`${suppressed} more ${what} in the last ${windowMs / 1000} s (not shown)`, type);
      windowStart = now;
      shown = 0;
      suppressed = 0;
    }
    if (shown++ < perWindow) process.emitWarning(message, type);
    else suppressed++;
  };
}
