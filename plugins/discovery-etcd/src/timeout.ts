export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Bounds a promise, even one whose RPC deadline was not honoured: a hung etcd (or a stream that never
 * answers) must never stall a loop or a caller. `onTimeout` cancels what is left behind.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new TimeoutError(`${what} timed out after ${Math.round(ms)} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
