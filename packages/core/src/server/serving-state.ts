import type { Disposable } from '../registry.js';
import type { ServingView } from '../transport.js';

/**
 * Whether one server is serving, for whoever answers health checks (the health plugin's HTTP
 * endpoint, gRPC's `grpc.health.v1` in transport-grpc): the kernel's lifecycle (ready → serving,
 * graceful stop → not serving) and a plugin's hold (`ctx.setServing(false)`, an operator taking the
 * instance out without stopping it). Handed to transports in `ListenOptions.serving`, so a transport
 * plugin and a health plugin meet here without importing each other.
 */
export class ServingState implements ServingView {
  private live = false;
  private held = false;
  private readonly listeners = new Set<(serving: boolean) => void>();

  get serving(): boolean {
    return this.live && !this.held;
  }

  /** The kernel: true once ready (before registering), false from the start of a graceful stop. */
  setLive(live: boolean): void {
    this.update(() => (this.live = live));
  }

  /** A plugin: false holds the server out of service while it keeps running. */
  setHeld(held: boolean): void {
    this.update(() => (this.held = held));
  }

  onChange(listener: (serving: boolean) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private update(change: () => void): void {
    const before = this.serving;
    change();
    const after = this.serving;
    if (before === after) return;
    for (const listener of this.listeners) {
      try {
        listener(after);
      } catch (error) {
        process.emitWarning(`a serving-state listener threw: ${(error as Error)?.message ?? String(error)}`, 'TrellisWarning');
      }
    }
  }
}
