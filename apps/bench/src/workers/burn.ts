/**
 * The Burn handler's work: a fixed number of xorshift steps, the same instructions on every call in
 * every shape. Not a spin until a clock says 200 µs have passed: a spinning worker the scheduler
 * preempts (for the callers, on the same 2 cores) would "burn" its 200 µs of wall time while doing
 * less work, and the shape where preemption happens most — 2 workers beside the callers — would
 * look faster than it is.
 */
export function burn(iterations: number): number {
  let x = 0x2545f491;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

/**
 * How many steps take `us` microseconds of CPU here: the fastest of many timed trials (a trial the
 * scheduler interrupted only looks slower), so the figure is close to an idle core's even while the
 * machine is shared. The bench calibrates once and hands the count to every provider: every shape
 * does exactly the same work per call.
 */
export function calibrateBurn(us: number): number {
  const probe = 200_000;
  burn(probe * 5); // let the JIT optimise it first
  let best = Infinity;
  for (let trial = 0; trial < 40; trial++) {
    const started = process.hrtime.bigint();
    burn(probe);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000);
  }
  return Math.round((probe * us) / best);
}
