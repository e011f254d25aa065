import { context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, TraceIdRatioBasedSampler, type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { randomBytes } from 'node:crypto';
import type { Plugin } from '@trellis/core';
import { admin, type AdminPlugin } from '@trellis/admin';
import { breaker, type BreakerEvent } from '@trellis/breaker';
import { health } from '@trellis/health';
import { lalb, type LalbPlugin } from '@trellis/lb-lalb';
import { metrics, type MetricsPlugin } from '@trellis/metrics';
import { retry } from '@trellis/retry';
import { paramRouter } from '@trellis/router-param';
import { tracing } from '@trellis/tracing';

/**
 * The gray release: two listed users and a stable 10 % slice of all users (by hash of the `name`
 * field) go to providers tagged version=v2; everyone else to v1. Count has no `name`, so it goes to v1.
 */
export const GRAY_RULES = `
version: demo-gray-1
param:
  - name: gray-listed-users
    match: [{ field: name, op: in, values: [user7, user42] }]
    target: { version: v2 }
  - name: gray-10-percent
    match: [{ field: name, op: percent, percent: 10 }]
    target: { version: v2 }
  - name: everyone-else
    target: { version: v1 }
`;

export interface Governance {
  readonly plugins: Plugin[];
  readonly lalb: LalbPlugin;
  readonly metrics: MetricsPlugin;
  /** The consumer's web console (127.0.0.1, a fresh token per run). */
  readonly console: AdminPlugin;
  /** The console's address with its write token in the fragment (browsers never send a fragment). */
  readonly consoleUrl: () => string;
  /** One sampled trace per ~100 calls, kept in memory for the summary's trace tree. */
  readonly spans: () => ReadableSpan[];
  close(): Promise<void>;
}

export function consumerGovernance(onBreaker: (event: BreakerEvent) => void): Governance {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    sampler: new TraceIdRatioBasedSampler(0.01),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const balancer = lalb();
  const metricsPlugin = metrics({ port: 0, host: '127.0.0.1' });
  const writeToken = randomBytes(24).toString('base64url');
  const consolePlugin = admin({ port: Number(process.env.TRELLIS_CONSOLE_PORT ?? 0), token: randomBytes(24).toString('base64url'), writeToken });
  return {
    plugins: [
      tracing({ tracerProvider }),
      metricsPlugin,
      health({ intervalMs: 250, timeoutMs: 250, failureThreshold: 2, warmupMs: 0 }),
      paramRouter({ rules: GRAY_RULES }),
      balancer,
      retry({ maxAttempts: 3, attemptTimeoutMs: 500 }),
      // A short window so the demo's few seconds of refusals can open the circuit (production: 10 s).
      breaker({ windowMs: 2000, minCalls: 20, onStateChange: onBreaker }),
      consolePlugin,
    ],
    lalb: balancer,
    metrics: metricsPlugin,
    console: consolePlugin,
    consoleUrl: () => `${consolePlugin.url ?? ''}#token=${writeToken}`,
    spans: () => exporter.getFinishedSpans(),
    close: async () => {
      await metricsPlugin.close();
      await consolePlugin.close();
      await tracerProvider.shutdown();
    },
  };
}

export type { Span };
