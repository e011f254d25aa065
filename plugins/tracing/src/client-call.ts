import type { Span } from '@opentelemetry/api';
import { createContextKey, type Endpoint } from '@trellis/core';

/** What the attempt interceptor needs of the call span; only calls whose span records get one. */
export class ClientCall {
  /** Sends so far (every pick that reached the endpoint chain). */
  sends = 0;
  /** `Invocation.attempt` of the last send, to tell a transparent re-send from a policy retry. */
  lastAttempt = 0;
  /** The endpoint of the last send, for `server.address` when the call fails. */
  endpoint: Endpoint | undefined;

  constructor(readonly span: Span) {}
}

/** One key per plugin instance, so two tracing plugins on different clients never see each other's calls. */
export function createClientCallKey() {
  return createContextKey<ClientCall | undefined>(undefined, { description: '@trellis/tracing call span' });
}
