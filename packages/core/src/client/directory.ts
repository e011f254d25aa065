import Range from 'semver/classes/range.js';
import type { Endpoint } from '../endpoint.js';
import { invalidOption } from '../errors.js';
import type { Disposable, Registry, ServiceQuery } from '../registry.js';

/**
 * The consumer's cached provider list for one service: subscribed from the registry, filtered by the
 * requested version range. `endpoints` keeps its identity until the list really changes.
 */
export class Directory {
  endpoints: readonly Endpoint[] = [];
  /** True once the registry delivered a first list (even an empty one). */
  resolved = false;
  private readonly range: Range | undefined;
  private subscription: Disposable | undefined;
  private readonly listeners = new Set<(endpoints: readonly Endpoint[]) => void>();
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly query: ServiceQuery, versionRange: string) {
    try {
      this.range = versionRange === '*' || versionRange === '' ? undefined : new Range(versionRange);
    } catch {
      throw invalidOption('version', versionRange, 'a semver range such as "^1.2.0" or "*"');
    }
  }

  start(registry: Registry): void {
    this.subscription = registry.subscribe(this.query, (list) => this.update(list));
  }

  /** Resolves when the first list arrives, or after `timeoutMs`. */
  waitResolved(timeoutMs: number): Promise<void> {
    if (this.resolved) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  onChange(listener: (endpoints: readonly Endpoint[]) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  close(): void {
    this.subscription?.dispose();
    this.listeners.clear();
  }

  private update(list: readonly Endpoint[]): void {
    const range = this.range;
    const filtered = range === undefined ? list : list.filter((e) => e.version === '*' || range.test(e.version));
    if (!(this.resolved && sameEndpoints(filtered, this.endpoints))) {
      this.endpoints = Object.freeze([...filtered]);
      for (const listener of this.listeners) listener(this.endpoints);
    }
    if (!this.resolved) {
      this.resolved = true;
      for (const wake of this.waiters.splice(0)) wake();
    }
  }
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.id !== y.id || x.weight !== y.weight || x.version !== y.version || x.startedAt !== y.startedAt || JSON.stringify(x.tags) !== JSON.stringify(y.tags)) return false;
  }
  return true;
}
