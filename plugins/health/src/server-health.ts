import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerPluginContext } from '@trellis/core';
import { HealthHttpEndpoint } from './http-endpoint.js';
import type { ResolvedHealthOptions } from './options.js';

/**
 * The provider side of one server: graceful start (readiness checks, then an optional delay, before
 * the kernel registers the provider) and the serving status the HTTP endpoint reports, which flips to
 * NOT_SERVING at the very start of graceful shutdown, before deregistering.
 */
export class ServerHealth {
  private ready = false;
  private shuttingDown = false;
  private held = false;
  private endpoint: HealthHttpEndpoint | undefined;
  private context: ServerPluginContext | undefined;

  constructor(private readonly options: ResolvedHealthOptions) {}

  /** Ready, not shutting down, and not held out by `setServing(false)`. */
  get serving(): boolean {
    return this.ready && !this.shuttingDown && !this.held;
  }

  get httpAddress(): { host: string; port: number } | undefined {
    const address = this.endpoint?.address;
    return address === undefined ? undefined : { host: address.address, port: address.port };
  }

  async setup(ctx: ServerPluginContext): Promise<void> {
    this.context = ctx;
    if (this.options.http !== undefined) {
      const endpoint = new HealthHttpEndpoint(this.options.http);
      await endpoint.listen();
      this.endpoint = endpoint;
      ctx.onClose(() => endpoint.close());
    }
    ctx.addReadinessCheck(() => this.becomeReady());
    ctx.onShutdown(() => {
      this.shuttingDown = true;
      this.publish();
    });
  }

  /**
   * An operator's override: false answers NOT_SERVING while the server keeps running — here and,
   * through the kernel's serving state, in every health check a transport answers (gRPC's Health).
   */
  setServing(serving: boolean): void {
    this.held = !serving;
    this.context?.setServing(serving);
    this.publish();
  }

  private async becomeReady(): Promise<void> {
    try {
      for (const check of this.options.readiness) await check();
      if (this.options.startDelayMs > 0) await sleep(this.options.startDelayMs);
    } catch (error) {
      // The kernel does not run close hooks when start() fails: release the port ourselves.
      await this.endpoint?.close();
      throw error;
    }
    this.ready = true;
    this.publish();
  }

  private publish(): void {
    if (this.endpoint !== undefined) this.endpoint.serving = this.serving;
  }
}
