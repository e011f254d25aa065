import { definePlugin, type Plugin } from '@trellis/core';
import type { Clock, Disposable } from '@trellis/core/spi';
import { documentRules, warnRuleError } from '@trellis/rules';
import { BreakerConfig } from './breaker-config.js';
import { parseBreakerOptions, type BreakerOptions } from './breaker-options.js';
import { CircuitSet } from './circuit-set.js';
import { BREAKER_DOCUMENT_SPEC } from './document-specs.js';
import { EndpointBreaker } from './endpoint-breaker.js';
import type { BreakerEvent, CircuitSnapshot } from './events.js';
import { MethodBreaker } from './method-breaker.js';

export interface BreakerPlugin extends Plugin {
  /** Every circuit of every client this plugin is set up on (and not closed yet). */
  states(): CircuitSnapshot[];
  /** Listens to state changes of every circuit; dispose() to stop. */
  onStateChange(listener: (event: BreakerEvent) => void): Disposable;
}

interface ClientCircuits {
  readonly clock: Clock;
  readonly sets: readonly CircuitSet[];
}

/**
 * Client-side circuit breaking: per endpoint (the balancer skips an open endpoint) and per method
 * (an open one fails fast). Register it on a client: `client.use(breaker())`.
 */
export function breaker(options: BreakerOptions = {}): BreakerPlugin {
  const settings = parseBreakerOptions(options);
  // Checks the combination (cool-down vs cap, buckets vs window) at breaker(), where the mistake is.
  new BreakerConfig(settings, options.isFailure);

  const listeners = new Set<(event: BreakerEvent) => void>();
  if (options.onStateChange) listeners.add(options.onStateChange);
  const report = options.onError ?? warnRuleError;
  const emit = (event: BreakerEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        report(error instanceof Error ? error : new Error(String(error)));
      }
    }
  };
  const live = new Set<ClientCircuits>();

  return definePlugin({
    meta: { name: '@trellis/breaker', kernel: '^0.1.0' },
    states: () => [...live].flatMap(({ clock, sets }) => sets.flatMap((set) => set.snapshot(clock.now()))),
    onStateChange(listener: (event: BreakerEvent) => void): Disposable {
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
    setupClient(ctx) {
      const clock = options.clock ?? ctx.clock;
      const service = `${ctx.service.group}/${ctx.service.name}`;
      const config = new BreakerConfig(settings, options.isFailure);
      const endpoints = new CircuitSet(service, 'endpoint', emit);
      const methods = new CircuitSet(service, 'method', emit);
      const endpointBreaker = new EndpointBreaker(endpoints, config, clock, clock !== ctx.clock);
      ctx.observe(endpointBreaker);
      ctx.addRouter(endpointBreaker);
      // Unary calls: a gate (no promise layer) awake only while a method circuit is not closed, and
      // an observer that records while it sleeps; stream calls: an interceptor (set-up outcomes).
      MethodBreaker.register(ctx, methods, config, clock);
      const subscription = ctx.onEndpoints((list) => endpoints.retain(new Set(list.map((e) => e.id))));
      config.onChange(() => {
        const now = config.current;
        endpoints.reconfigure(() => (now.enabled ? now.endpoint : undefined));
        methods.reconfigure((key) => {
          if (!now.enabled) return undefined;
          if (now.scope === 'service') return key.includes('/') ? undefined : now.method('');
          return key.includes('/') ? now.method(key.slice(key.lastIndexOf('/') + 1)) : undefined;
        });
      });
      const entry: ClientCircuits = { clock, sets: [endpoints, methods] };
      ctx.addInspector('@trellis/breaker', () => entry.sets.flatMap((set) => set.snapshot(clock.now())));
      live.add(entry);
      // The live `breaker` document, followed by @trellis/rules (disposed with the client).
      documentRules(ctx, BREAKER_DOCUMENT_SPEC, {
        service: ctx.service,
        document: typeof options.config === 'string' ? options.config : undefined,
        live: options.config !== false,
        target: config.rules,
        compile: (document) => config.compile(document),
        onError: report,
      });
      ctx.onClose(() => {
        subscription.dispose();
        live.delete(entry);
      });
    },
  });
}
