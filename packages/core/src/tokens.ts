import type { InjectionToken } from 'tsyringe';
import type { Clock } from './clock.js';
import type { HealthView } from './health.js';
import type { Registry } from './registry.js';
import type { ClientTransport, ServerTransport } from './transport.js';

/**
 * tsyringe tokens. Always `@inject(TOKENS.X)` explicitly: some TypeScript loaders emit no decorator
 * metadata, and a class token would then fail with `TypeInfo not known`.
 */
export const TOKENS = {
  Registry: Symbol.for('trellis.Registry') as InjectionToken<Registry>,
  Clock: Symbol.for('trellis.Clock') as InjectionToken<Clock>,
  HealthView: Symbol.for('trellis.HealthView') as InjectionToken<HealthView>,
  ClientTransport: Symbol.for('trellis.ClientTransport') as InjectionToken<ClientTransport>,
  ServerTransport: Symbol.for('trellis.ServerTransport') as InjectionToken<ServerTransport>,
} as const;
