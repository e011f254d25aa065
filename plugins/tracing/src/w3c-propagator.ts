import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { BaggagePropagator } from './baggage-propagator.js';
import { TraceContextPropagator } from './trace-context-propagator.js';

/** Trace context and baggage together: what the plugin propagates unless told otherwise. */
export class W3CPropagator implements TextMapPropagator {
  private readonly traceContext = new TraceContextPropagator();
  private readonly baggage = new BaggagePropagator();

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.traceContext.inject(context, carrier, setter);
    this.baggage.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.baggage.extract(this.traceContext.extract(context, carrier, getter), carrier, getter);
  }

  fields(): string[] {
    return [...this.traceContext.fields(), ...this.baggage.fields()];
  }
}

export const w3cPropagator: TextMapPropagator = new W3CPropagator();
