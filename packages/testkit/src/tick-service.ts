import { Code, RpcError, type ServerInvocation, type ServiceDefinition } from '@trellis/core';
import { loadProto } from '@trellis/codec-protobuf';
import * as path from 'node:path';

/** protos/ticks.proto; `..` from src/ and from dist/ alike. */
export const TICKS_PROTO_PATH = path.join(__dirname, '..', 'protos', 'ticks.proto');
export const TICK_SERVICE_NAME = 'trellis.test.TickService';

export interface TickRequest { count?: number; intervalMs?: number; failCode?: number }
export interface Tick { seq: number; servedBy?: string }
export interface TickSummary { count: number }

let tickService: ServiceDefinition | undefined;

/** The TickService definition (one method per stream kind), loaded once per process. */
export function loadTickService(): ServiceDefinition {
  tickService ??= loadProto(TICKS_PROTO_PATH).service(TICK_SERVICE_NAME);
  return tickService;
}

/** What the handlers saw: the plugins' stream tests assert the server side ran and ended. */
export class TickProbe {
  /** Streams whose handler started. */
  opened = 0;
  /** Handlers that ended, any way (their `finally` ran). */
  closed = 0;
}

/** Waits `ms`; resolves early (false) when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Handlers for TickService. `ticks` sends `count` ticks (0: until cancelled) `interval_ms` apart,
 * then fails with `fail_code` if set; `collect` counts the client's ticks; `relay` echoes each tick.
 */
export function createTickHandlers(servedBy: string, probe = new TickProbe()) {
  return {
    async *ticks(request: TickRequest, call: ServerInvocation): AsyncGenerator<Tick> {
      probe.opened++;
      try {
        const count = request.count ?? 0;
        if (request.failCode && count === 0) throw new RpcError(request.failCode as Code, 'injected failure');
        for (let seq = 1; count === 0 || seq <= count; seq++) {
          if (request.intervalMs && !(await pause(request.intervalMs, call.signal))) return;
          if (call.signal.aborted) return;
          yield { seq, servedBy };
        }
        if (request.failCode) throw new RpcError(request.failCode as Code, `injected failure after ${count} ticks`);
      } finally {
        probe.closed++;
      }
    },
    async collect(requests: AsyncIterable<Tick>): Promise<TickSummary> {
      probe.opened++;
      try {
        let count = 0;
        for await (const tick of requests) if (tick) count++;
        return { count };
      } finally {
        probe.closed++;
      }
    },
    async *relay(requests: AsyncIterable<Tick>): AsyncGenerator<Tick> {
      probe.opened++;
      try {
        for await (const tick of requests) yield { seq: tick.seq, servedBy };
      } finally {
        probe.closed++;
      }
    },
  };
}
