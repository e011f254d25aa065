/**
 * What a load balancer's unit test needs without a client: a clock that moves only when told, an
 * endpoint from an id, an invocation with just the fields balancers read (excluded endpoints,
 * deadline, attempt, request, metadata), and a recording client plugin context. Shared by the
 * balancer plugins' tests and the LB benchmark's virtual-clock model.
 */
import { ContextValues, createMetadata, serviceKey, type Endpoint, type Invocation, type MethodDescriptor } from '@trellis/core';
import type { ClientPluginContext, Clock, LoadBalancer, LoadBalancerFactory } from '@trellis/core/spi';

export class FakeClock implements Clock {
  constructor(public ms = 1000) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/** `host:port` → an endpoint with that id, version 1.0.0, no tags. */
export function testEndpoint(id: string, weight = 100): Endpoint {
  const colon = id.lastIndexOf(':');
  const host = colon < 0 ? id : id.slice(0, colon);
  return { id, host, port: colon < 0 ? 0 : Number(id.slice(colon + 1)), weight, version: '1.0.0', tags: {} };
}

const METHOD: MethodDescriptor = {
  name: 'Echo',
  localName: 'echo',
  service: 'test.Echo',
  requestCodec: { encode: () => new Uint8Array(), decode: () => ({}) },
  responseCodec: { encode: () => new Uint8Array(), decode: () => ({}) },
  idempotent: true,
  options: {},
};

const SERVICE = serviceKey('test.Echo');

export interface TestInvocationFields {
  readonly excluded?: Iterable<string>;
  /** Absolute, on the balancer's clock; default: none. */
  readonly deadline?: number;
  readonly attempt?: number;
  readonly request?: unknown;
  readonly metadata?: Record<string, string>;
}

export function testInvocation(fields: TestInvocationFields = {}): Invocation {
  return {
    service: SERVICE,
    method: METHOD,
    request: fields.request ?? {},
    metadata: createMetadata(fields.metadata),
    deadline: fields.deadline ?? Number.POSITIVE_INFINITY,
    signal: undefined,
    attempt: fields.attempt ?? 1,
    excluded: new Set(fields.excluded ?? []),
    context: new ContextValues(),
  };
}

/**
 * The parts of a client's plugin context a balancer plugin's setup touches, recorded: the balancers
 * registered by name, the one set as the client's, and the close hooks (run by `close()`).
 */
export function fakeClientContext(clock: Clock = new FakeClock()) {
  const named = new Map<string, LoadBalancerFactory>();
  const closers: (() => unknown)[] = [];
  let current: LoadBalancer | undefined;
  const context = {
    side: 'client',
    clock,
    addLoadBalancer: (name: string, factory: LoadBalancerFactory) => void named.set(name, factory),
    setLoadBalancer: (balancer: LoadBalancer) => void (current = balancer),
    onClose: (fn: () => unknown) => void closers.push(fn),
  } as unknown as ClientPluginContext;
  return {
    context,
    named,
    current: () => current,
    close: async () => {
      for (const fn of closers.reverse()) await fn();
    },
  };
}
