import type { ClientPluginContext, PrimaryPluginContext, ServerPluginContext } from '@trellis/core/spi';

/** A client or server the admin plugin is set up on: what the API reads from. */
export type Target =
  | { readonly side: 'client'; readonly id: string; readonly context: ClientPluginContext }
  /** A server, or the primary of a worker group (whose workers the console reads over IPC). */
  | { readonly side: 'server'; readonly id: string; readonly context: ServerPluginContext | PrimaryPluginContext };

/** The clients and servers of one admin plugin, in setup order, with ids stable for their lifetime (`c1`, `s1`…). */
export class Targets {
  private readonly list: Target[] = [];
  private clients = 0;
  private servers = 0;

  addClient(context: ClientPluginContext): Target {
    const target: Target = { side: 'client', id: `c${++this.clients}`, context };
    this.list.push(target);
    return target;
  }

  addServer(context: ServerPluginContext | PrimaryPluginContext): Target {
    const target: Target = { side: 'server', id: `s${++this.servers}`, context };
    this.list.push(target);
    return target;
  }

  remove(target: Target): void {
    const at = this.list.indexOf(target);
    if (at >= 0) this.list.splice(at, 1);
  }

  get size(): number {
    return this.list.length;
  }

  all(): readonly Target[] {
    return this.list;
  }

  clientsOnly(): Extract<Target, { side: 'client' }>[] {
    return this.list.filter((t): t is Extract<Target, { side: 'client' }> => t.side === 'client');
  }

  find(id: unknown): Target | undefined {
    return typeof id === 'string' ? this.list.find((t) => t.id === id) : undefined;
  }
}
