import type { TrellisError } from '@trellis/core';
import type { Disposable } from '@trellis/core/spi';
import { reportable, ZooKeeperErrorCodes } from './errors.js';

/**
 * The listeners sharing one watch: a late listener gets the current value replayed asynchronously
 * (like the first one, so no caller depends on a synchronous delivery), a throwing listener is
 * reported and cannot stop the others, and the watch is told when its last listener leaves.
 */
export class ListenerSet<V> {
  private readonly listeners = new Set<(value: V) => void>();

  constructor(
    /** For error messages: "a config listener for /trellis/config/…". */
    private readonly describe: string,
    private readonly onError: (error: TrellisError) => void,
    private readonly onIdle: () => void,
  ) {}

  add(listener: (value: V) => void, current: { readonly value: V } | undefined, isClosed: () => boolean): Disposable {
    this.listeners.add(listener);
    if (current) {
      queueMicrotask(() => {
        if (this.listeners.has(listener) && !isClosed()) this.call(listener, current.value);
      });
    }
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.onIdle();
      },
    };
  }

  emit(value: V): void {
    for (const listener of [...this.listeners]) this.call(listener, value);
  }

  clear(): void {
    this.listeners.clear();
  }

  private call(listener: (value: V) => void, value: V): void {
    try {
      listener(value);
    } catch (error) {
      this.onError(reportable(ZooKeeperErrorCodes.LISTENER_FAILED, `${this.describe} threw`, error));
    }
  }
}
