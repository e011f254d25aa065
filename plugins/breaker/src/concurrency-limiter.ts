/** Decides how many calls may run at once; told when each accepted call ends. */
export interface ConcurrencyLimiter {
  readonly algorithm: 'constant' | 'auto';
  /** Calls accepted and not finished. */
  readonly inflight: number;
  /** The limit in force now (the adaptive one moves it). */
  readonly limit: number;
  tryAcquire(now: number): boolean;
  /** `failed`: the call ended with an error that counts as the server's failure. */
  release(now: number, latencyMs: number, failed: boolean): void;
  /** A call that acquired and was then rejected by another check: gives the slot back unmeasured. */
  cancel(): void;
}

/** A fixed maximum of in-flight calls (brpc's constant limiter). */
export class ConstantConcurrencyLimiter implements ConcurrencyLimiter {
  readonly algorithm = 'constant';
  inflight = 0;

  constructor(readonly limit: number) {}

  tryAcquire(): boolean {
    if (this.inflight >= this.limit) return false;
    this.inflight++;
    return true;
  }

  release(): void {
    this.inflight--;
  }

  cancel(): void {
    this.inflight--;
  }
}
