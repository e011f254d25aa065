/**
 * Merges bursts of registry notifications: the listener runs `windowMs` after the last change, and at
 * the latest `maxWaitMs` after the first one of a burst — a deploy of 50 providers becomes one rebuild
 * per consumer, yet a steady trickle of changes cannot starve it.
 */
export interface Debounced<T> {
  (value: T): void;
  /** Delivers a pending value now. */
  flush(): void;
  cancel(): void;
}

export function debounce<T>(listener: (value: T) => void, windowMs: number, maxWaitMs = windowMs * 5): Debounced<T> {
  let pending: { value: T } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let firstAt = 0;

  const fire = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const p = pending;
    pending = undefined;
    if (p) listener(p.value);
  };

  const debounced = ((value: T) => {
    const now = Date.now();
    if (!pending) firstAt = now;
    pending = { value };
    if (windowMs <= 0) return fire();
    if (timer) clearTimeout(timer);
    const wait = Math.max(0, Math.min(windowMs, firstAt + maxWaitMs - now));
    timer = setTimeout(fire, wait);
    timer.unref();
  }) as Debounced<T>;
  debounced.flush = fire;
  debounced.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    pending = undefined;
  };
  return debounced;
}
