import { Code, RpcError } from '@trellis/core';
import type { Disposable } from '@trellis/core/spi';
import type { GrpcMethodHandler } from '../server/handler.js';
import { HEALTH_ROOT } from './standard-protos.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

const STATUS_NUMBER = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/**
 * What `grpc.health.v1.Health` reports: a serving status per service name, `''` being the server as
 * a whole. Whoever knows the provider's state drives it — the kernel's health plugin in Trellis
 * (SERVING once ready, NOT_SERVING from the start of a graceful stop) — and Watch streams follow.
 */
export class HealthStatusSource {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Set<(service: string, status: ServingStatus) => void>();

  constructor(initial: Readonly<Record<string, ServingStatus>> = { '': 'SERVING' }) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const listener of this.listeners) listener(service, status);
  }

  /** Every known service (and the server) NOT_SERVING: the start of a graceful stop. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.set(service, 'NOT_SERVING');
  }

  /** Every service name with a status (`''`, the server as a whole, included). */
  get services(): string[] {
    return [...this.statuses.keys()];
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  onChange(listener: (service: string, status: ServingStatus) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}

const Request = HEALTH_ROOT.lookupType('grpc.health.v1.HealthCheckRequest');
const Response = HEALTH_ROOT.lookupType('grpc.health.v1.HealthCheckResponse');

function encode(status: keyof typeof STATUS_NUMBER): Uint8Array {
  return Response.encode({ status: STATUS_NUMBER[status] }).finish();
}

function serviceOf(bytes: Uint8Array): string {
  try {
    return (Request.decode(bytes) as unknown as { service: string }).service;
  } catch (error) {
    throw new RpcError(Code.INVALID_ARGUMENT, `HealthCheckRequest could not be decoded: ${(error as Error).message}`);
  }
}

/** The methods of `grpc.health.v1.Health` (Check, Watch) over a status source. */
export function healthService(source: HealthStatusSource): Record<string, GrpcMethodHandler> {
  return {
    Check: {
      kind: 'unary',
      handle(call) {
        const service = serviceOf(call.request);
        const status = source.get(service);
        if (status === undefined) throw new RpcError(Code.NOT_FOUND, `unknown service "${service}"`);
        return encode(status);
      },
    },
    Watch: {
      kind: 'server-streaming',
      async handle(call) {
        const service = serviceOf(call.request);
        // Changes queue up while a send waits on flow control; only the latest matters.
        let latest: ServingStatus | undefined;
        let wake: (() => void) | undefined;
        const subscription = source.onChange((changed, status) => {
          if (changed !== service) return;
          latest = status;
          wake?.();
        });
        try {
          await call.send(encode(source.get(service) ?? 'SERVICE_UNKNOWN'));
          const aborted = new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve(), { once: true }));
          while (!call.signal.aborted) {
            if (latest === undefined) {
              await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
              continue;
            }
            const next = latest;
            latest = undefined;
            await call.send(encode(next));
          }
        } finally {
          subscription.dispose();
        }
      },
    },
  };
}
