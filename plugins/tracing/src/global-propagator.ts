import { propagation, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { w3cPropagator } from './w3c-propagator.js';

/**
 * The plugin's default propagator: the one the application registered globally
 * (`propagation.setGlobalPropagator`, the SDK's `register()` or NodeSDK — B3, Jaeger, a composite…),
 * used through the `propagation` API; while none is registered, W3C trace context + baggage from
 * `@opentelemetry/core`, so that context crosses calls with no SDK setup at all.
 *
 * Looked up on every call, not once: an application may register its propagator after its clients
 * and servers were set up, as it may register its tracer provider (the plugin's proxy tracer follows
 * that too). The API's no-op propagator, in place until something is registered, has no fields.
 */
export class GlobalPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    current().inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return current().extract(context, carrier, getter);
  }

  fields(): string[] {
    return current().fields();
  }
}

function current(): TextMapPropagator {
  return propagation.fields().length > 0 ? propagation : w3cPropagator;
}

export const globalPropagator: TextMapPropagator = new GlobalPropagator();
