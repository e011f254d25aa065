/** Where the rules in force came from. */
export type RuleOrigin = 'options' | 'live';

export interface RuleSetState<C> {
  readonly compiled: C;
  readonly version: string;
  readonly origin: RuleOrigin;
  /** `option "rules"`, `file ./routes.yaml`, `etcd /trellis/config/default/svc/routes`. */
  readonly source: string;
}

/**
 * The compiled rules in force, swapped as a whole. A router reads `state` once per call and works on
 * that object only, so a call never sees half of an update: a new document is compiled completely
 * beside the old one, then one assignment replaces it.
 *
 * `fallback` is what is in force while no live document exists (the start-up rules, from options or a
 * file); deleting the live document brings it back.
 */
export class RuleSet<C> {
  private current: RuleSetState<C>;
  private readonly listeners = new Set<(state: RuleSetState<C>, previous: RuleSetState<C>) => void>();

  constructor(readonly fallback: RuleSetState<C>) {
    this.current = fallback;
  }

  get state(): RuleSetState<C> {
    return this.current;
  }

  get compiled(): C {
    return this.current.compiled;
  }

  get version(): string {
    return this.current.version;
  }

  /** Puts `next` in force (or the fallback, for `undefined`) and tells the listeners. */
  swap(next: RuleSetState<C> | undefined): void {
    const previous = this.current;
    this.current = next ?? this.fallback;
    if (this.current === previous) return;
    for (const listener of this.listeners) listener(this.current, previous);
  }

  onSwap(listener: (state: RuleSetState<C>, previous: RuleSetState<C>) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}
