import { definePlugin, formatServiceKey, type Endpoint, type Plugin } from '@trellis/core';
import { availabilityObserver } from './availability-observer.js';
import { HealthEvents, type EndpointHealth } from './health-events.js';
import { HealthMonitor } from './health-monitor.js';
import { LoopStallMonitor } from './loop-stall-monitor.js';
import { resolveHealthOptions, type HealthOptions } from './options.js';
import { ServerHealth } from './server-health.js';
import { WarmupDormancy } from './warmup-dormancy.js';
import { WarmupRouter } from './warmup.js';

export interface HealthPlugin extends Plugin {
  /** `change` on every state transition, `heartbeat` on every heartbeat or probe outcome. */
  readonly healthEvents: HealthEvents;
  /** Current state of every endpoint of every client this plugin is set up on. */
  states(): EndpointHealth[];
  /** Heartbeats every endpoint now instead of at its next turn (an admin's "check now"). */
  checkNow(): void;
  /** Provider side: what the HTTP endpoint answers right now. */
  readonly serving: boolean;
  /** Provider side: `false` answers NOT_SERVING (take the instance out of rotation) until set back. */
  setServing(serving: boolean): void;
  /** Provider side: where the HTTP endpoint listens, once the server started. */
  httpAddress(): { host: string; port: number } | undefined;
}

/**
 * Endpoint health for consumers (heartbeats, availability, dead-endpoint probing, warm-up) and
 * graceful start plus an HTTP health endpoint for providers, in one plugin object:
 * `client.use(health())`, `server.use(health({ http: { port: 8081 } }))`.
 */
export function health(options: HealthOptions = {}): HealthPlugin {
  const resolved = resolveHealthOptions(options);
  const events = new HealthEvents();
  const monitors = new Set<HealthMonitor>();
  const servers: ServerHealth[] = [];
  return definePlugin({
    meta: { name: '@trellis/health', kernel: '^0.1.0' },
    healthEvents: events,
    states: () => [...monitors].flatMap((monitor) => monitor.snapshot()),
    checkNow: () => {
      for (const monitor of monitors) monitor.checkNow();
    },
    get serving() {
      return servers.length > 0 && servers.every((s) => s.serving);
    },
    setServing: (serving: boolean) => {
      for (const server of servers) server.setServing(serving);
    },
    httpAddress: () => servers.find((s) => s.httpAddress !== undefined)?.httpAddress,

    setupClient(ctx) {
      const stall = resolved.loopStall === undefined ? undefined : LoopStallMonitor.acquire(resolved.loopStall.sampleMs, resolved.loopStall.thresholdMs);
      const monitor = new HealthMonitor(ctx.transport, resolved, ctx.clock, events, formatServiceKey(ctx.service), stall?.monitor);
      monitors.add(monitor);
      ctx.setHealthView(monitor);
      const subscription = ctx.onEndpoints((endpoints) => monitor.setEndpoints(endpoints));
      if (resolved.availability !== undefined) ctx.observe(availabilityObserver(monitor));
      ctx.addInspector('@trellis/health', () => monitor.snapshot().map(({ endpoint, ...rest }) => ({ endpoint: endpoint.id, ...rest })));
      let dormancy: WarmupDormancy | undefined;
      let healthChanges: { dispose(): void } | undefined;
      let lists: { dispose(): void } | undefined;
      if (resolved.warmupMs > 0) {
        // One ramp for the router and for its dormancy, which judge the same endpoints.
        const ramp = { warmupMs: resolved.warmupMs, rampStart: (endpoint: Endpoint) => monitor.rampStart(endpoint) };
        // Its refresh is ticked by the dormancy's one timer (`expire`), not a timer of its own.
        const router = new WarmupRouter({ ...ramp, version: () => monitor.version, refresh: 'expire' });
        ctx.addRouter(router);
        // Off the call path while nothing ramps (the steady state): woken by a new list or a health
        // change, asleep again when the last ramp ends.
        const sleeper = (dormancy = new WarmupDormancy({ ...ramp, setActive: (active) => ctx.setHookActive(router, active), tick: () => router.expire() }));
        healthChanges = monitor.onChange(() => sleeper.recheck());
        lists = ctx.onEndpoints((endpoints) => sleeper.update(endpoints));
      }
      ctx.onClose(() => {
        lists?.dispose();
        healthChanges?.dispose();
        dormancy?.close();
        subscription.dispose();
        monitor.close();
        monitors.delete(monitor);
        stall?.release();
      });
    },

    async setupServer(ctx) {
      const server = new ServerHealth(resolved);
      servers.push(server);
      ctx.addInspector('@trellis/health', () => ({ serving: server.serving, http: server.httpAddress }));
      ctx.onClose(() => {
        servers.splice(servers.indexOf(server), 1);
      });
      await server.setup(ctx);
    },
  });
}
