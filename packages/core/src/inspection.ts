import { ErrorCodes, TrellisError } from './errors.js';

/**
 * A read-out of one client or server for operators (the admin console, `@trellis/admin`): what the
 * kernel knows itself plus each plugin's named snapshot. Taken only when asked, never on the call
 * path, so registering inspectors costs calls nothing.
 */
export interface Inspection {
  readonly side: 'client' | 'server';
  /** The plugins in force, in registration order. */
  readonly plugins: readonly { readonly name: string; readonly kernel: string }[];
  /** The kernel's own read-out: endpoints and the balancer for a client, services and the listener for a server. */
  readonly kernel: Readonly<Record<string, unknown>>;
  /** Each inspector's snapshot by name; `{ error }` for one that threw. */
  readonly inspectors: Readonly<Record<string, unknown>>;
}

/** The named snapshot providers of one client or server. */
export class Inspectors {
  private readonly providers = new Map<string, () => unknown>();

  add(name: string, snapshot: () => unknown): void {
    if (typeof name !== 'string' || name === '' || typeof snapshot !== 'function') {
      throw new TrellisError(ErrorCodes.PLUGIN_INVALID, `addInspector needs a non-empty name and a function; got ${JSON.stringify(name)}`);
    }
    if (this.providers.has(name)) {
      throw new TrellisError(ErrorCodes.PLUGIN_DUPLICATE, `an inspector named ${JSON.stringify(name)} is already registered on this client or server`);
    }
    this.providers.set(name, snapshot);
  }

  take(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, snapshot] of this.providers) {
      try {
        out[name] = snapshot();
      } catch (error) {
        // One broken read-out must not hide the others (nor reach the caller as an exception).
        out[name] = { error: (error as Error)?.message ?? String(error) };
      }
    }
    return out;
  }
}
