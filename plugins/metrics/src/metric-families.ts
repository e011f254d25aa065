import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';
import type { EndpointState, Endpoint, HealthView } from '@trellis/core';
import { ErrorCodes, TrellisError } from '@trellis/core';
import { invalidMetricsOption } from './errors.js';
import { CounterFamily, HistogramFamily } from './fast-families.js';

export type MethodLabels = { service: string; method: string };
export type EndpointLabels = { service: string; endpoint: string };

const HEALTH_STATES: readonly EndpointState[] = ['healthy', 'subhealthy', 'dead'];

/** What the gauges read of a client at scrape time. */
export interface ClientView {
  readonly service: string;
  readonly endpoints: readonly Endpoint[];
  health(): HealthView;
  /** Attempts in flight per endpoint id (endpoints no longer listed included, while they answer). */
  inflight(): Iterable<readonly [string, number]>;
}

/** What the server in-flight gauge reads of a server at scrape time. */
export interface ServerView {
  inflight(): Iterable<readonly [MethodLabels, number]>;
}

/** Per-call families are fast ones (see fast-families.ts); rare events use prom-client's. */
export interface ClientFamilies {
  /** {service, method, code} */
  readonly requests: CounterFamily;
  /** {service, method} */
  readonly duration: HistogramFamily;
  /** {service, method, endpoint, code} */
  readonly attempts: CounterFamily;
  /** {service, endpoint} */
  readonly attemptDuration: HistogramFamily;
  readonly healthTransitions: Counter<'service' | 'endpoint' | 'from' | 'to'>;
  readonly streams: StreamFamilies & StreamMessageFamilies;
}

/** Stream calls (issue #18), kept out of the call families so a long stream does not skew call latency. */
export interface StreamFamilies {
  /** {service, method}: streams set up (the server accepted them) */
  readonly started: CounterFamily;
  /** {service, method, code}: streams over, by final status (CANCELLED when a side left early) */
  readonly finished: CounterFamily;
  /** {service, method}: from the stream's start to its end */
  readonly duration: HistogramFamily;
}

/**
 * Message counts of streams: the client's from the kernel's `StreamStats` at `callEnd`, the server's
 * from `ServerInvocation.stream` once the handler is done.
 */
export interface StreamMessageFamilies {
  /** {service, method}: messages this side sent on streams */
  readonly messagesSent: CounterFamily;
  /** {service, method}: messages this side received on streams */
  readonly messagesReceived: CounterFamily;
}

export interface ServerFamilies {
  /** {service, method, code} */
  readonly requests: CounterFamily;
  /** {service, method} */
  readonly duration: HistogramFamily;
  /** Server side: started, finished and duration; no message counts (see README, "Streams"). */
  readonly streams: StreamFamilies & StreamMessageFamilies;
}

/** Sums values per label set, so two clients of one service add up instead of overwriting. */
function summed<L extends Record<string, string>>(entries: Iterable<readonly [string, L, number]>): Map<string, [L, number]> {
  const sums = new Map<string, [L, number]>();
  for (const [key, labels, value] of entries) {
    const known = sums.get(key);
    if (known === undefined) sums.set(key, [labels, value]);
    else known[1] += value;
  }
  return sums;
}

/**
 * The Trellis metric families of one registry (and prefix). Families are created on first use per
 * side, so a client-only process exports no empty server families. Every plugin instance on the
 * same registry shares one set: prom-client refuses a name twice, and the gauges must see every
 * client and server.
 */
export class MetricFamilies {
  readonly clients = new Set<ClientView>();
  readonly servers = new Set<ServerView>();
  private clientFamilies: ClientFamilies | undefined;
  private serverFamilies: ServerFamilies | undefined;
  private defaultMetricsOn = false;

  constructor(readonly registry: Registry, readonly prefix: string, readonly buckets: readonly number[]) {}

  enableDefaultMetrics(): void {
    if (this.defaultMetricsOn) return;
    this.defaultMetricsOn = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** Creates a family, turning prom-client's name clash into a configuration error. */
  register<M>(name: string, create: () => M): M {
    if (this.registry.getSingleMetric(name) !== undefined) {
      throw new TrellisError(
        ErrorCodes.INVALID_OPTION,
        `metrics option "registry" already holds a metric named ${name} that this plugin did not create; pass another "prefix" or another registry`,
      );
    }
    return create();
  }

  client(): ClientFamilies {
    if (this.clientFamilies !== undefined) return this.clientFamilies;
    const p = this.prefix;
    const registers = [this.registry];
    const buckets = [...this.buckets];
    const clients = this.clients;
    const families: ClientFamilies = {
      requests: this.register(`${p}client_requests_total`, () => new CounterFamily(
        `${p}client_requests_total`, 'Calls completed by clients, by final status code (after every retry).', ['service', 'method', 'code'],
      ).registerIn(this.registry)),
      duration: this.register(`${p}client_duration_seconds`, () => new HistogramFamily(
        `${p}client_duration_seconds`, 'Call latency as the caller saw it, every attempt included.', ['service', 'method'], buckets,
      ).registerIn(this.registry)),
      attempts: this.register(`${p}client_attempts_total`, () => new CounterFamily(
        `${p}client_attempts_total`, 'Attempts sent to each endpoint (retries and transparent re-sends included), by status code.', ['service', 'method', 'endpoint', 'code'],
      ).registerIn(this.registry)),
      attemptDuration: this.register(`${p}client_attempt_duration_seconds`, () => new HistogramFamily(
        `${p}client_attempt_duration_seconds`, 'Latency of single attempts per endpoint.', ['service', 'endpoint'], buckets,
      ).registerIn(this.registry)),
      healthTransitions: this.register(`${p}endpoint_health_transitions_total`, () => new Counter({
        name: `${p}endpoint_health_transitions_total`, help: 'Endpoint state changes seen by clients’ health views.', labelNames: ['service', 'endpoint', 'from', 'to'], registers,
      })),
      streams: {
        ...this.streamFamilies(`${p}client_`, 'clients'),
        messagesSent: this.register(`${p}client_stream_messages_sent_total`, () => new CounterFamily(
          `${p}client_stream_messages_sent_total`, 'Request messages clients sent on streams.', ['service', 'method'],
        ).registerIn(this.registry)),
        messagesReceived: this.register(`${p}client_stream_messages_received_total`, () => new CounterFamily(
          `${p}client_stream_messages_received_total`, 'Response messages clients received on streams.', ['service', 'method'],
        ).registerIn(this.registry)),
      },
    };
    this.register(`${p}client_endpoint_inflight`, () => new Gauge({
      name: `${p}client_endpoint_inflight`, help: 'Attempts in flight per endpoint.', labelNames: ['service', 'endpoint'], registers,
      collect() {
        this.reset();
        const rows = function* (): Generator<readonly [string, EndpointLabels, number]> {
          for (const view of clients) {
            for (const [endpoint, value] of view.inflight()) yield [`${view.service}\0${endpoint}`, { service: view.service, endpoint }, value];
          }
        };
        for (const [labels, value] of summed(rows()).values()) this.set(labels, value);
      },
    }));
    this.register(`${p}endpoint_health_state`, () => new Gauge({
      name: `${p}endpoint_health_state`, help: 'Endpoint state in each client’s health view: 1 for the current state, 0 for the others.',
      labelNames: ['service', 'endpoint', 'state'], registers,
      collect() {
        this.reset();
        for (const view of clients) {
          const health = view.health();
          for (const endpoint of view.endpoints) {
            const current = health.state(endpoint);
            for (const state of HEALTH_STATES) this.set({ service: view.service, endpoint: endpoint.id, state }, state === current ? 1 : 0);
          }
        }
      },
    }));
    this.clientFamilies = families;
    return families;
  }

  /** The stream families of one side (`prefix` ends with `client_` or `server_`). */
  private streamFamilies(prefix: string, side: string): StreamFamilies {
    const counter = (name: string, help: string, labels: string[]) => this.register(`${prefix}${name}`, () => new CounterFamily(`${prefix}${name}`, help, labels).registerIn(this.registry));
    return {
      started: counter('streams_started_total', `Streams set up by ${side}.`, ['service', 'method']),
      finished: counter('streams_finished_total', `Streams ended on ${side}, by final status code.`, ['service', 'method', 'code']),
      duration: this.register(`${prefix}stream_duration_seconds`, () => new HistogramFamily(
        `${prefix}stream_duration_seconds`, `How long streams stayed open on ${side}, start to final status.`, ['service', 'method'], [...this.buckets],
      ).registerIn(this.registry)),
    };
  }

  server(): ServerFamilies {
    if (this.serverFamilies !== undefined) return this.serverFamilies;
    const p = this.prefix;
    const registers = [this.registry];
    const servers = this.servers;
    const families: ServerFamilies = {
      requests: this.register(`${p}server_requests_total`, () => new CounterFamily(
        `${p}server_requests_total`, 'Calls handled by servers, by status code.', ['service', 'method', 'code'],
      ).registerIn(this.registry)),
      duration: this.register(`${p}server_duration_seconds`, () => new HistogramFamily(
        `${p}server_duration_seconds`, 'Time from the server interceptors to the handler’s answer.', ['service', 'method'], this.buckets,
      ).registerIn(this.registry)),
      streams: {
        ...this.streamFamilies(`${p}server_`, 'servers'),
        messagesSent: this.register(`${p}server_stream_messages_sent_total`, () => new CounterFamily(
          `${p}server_stream_messages_sent_total`, 'Response messages servers sent on streams.', ['service', 'method'],
        ).registerIn(this.registry)),
        messagesReceived: this.register(`${p}server_stream_messages_received_total`, () => new CounterFamily(
          `${p}server_stream_messages_received_total`, 'Request messages servers received on streams.', ['service', 'method'],
        ).registerIn(this.registry)),
      },
    };
    this.register(`${p}server_inflight`, () => new Gauge({
      name: `${p}server_inflight`, help: 'Calls being handled per method.', labelNames: ['service', 'method'], registers,
      collect() {
        this.reset();
        const rows = function* (): Generator<readonly [string, MethodLabels, number]> {
          for (const view of servers) for (const [labels, value] of view.inflight()) yield [`${labels.service}\0${labels.method}`, labels, value];
        };
        for (const [labels, value] of summed(rows()).values()) this.set(labels, value);
      },
    }));
    this.serverFamilies = families;
    return families;
  }
}

const byRegistry = new WeakMap<Registry, Map<string, MetricFamilies>>();

/** The one family set of this registry and prefix; buckets must agree between plugin instances. */
export function familiesFor(registry: Registry, prefix: string, buckets: readonly number[]): MetricFamilies {
  let byPrefix = byRegistry.get(registry);
  if (byPrefix === undefined) byRegistry.set(registry, (byPrefix = new Map()));
  const existing = byPrefix.get(prefix);
  if (existing !== undefined) {
    if (existing.buckets.length !== buckets.length || existing.buckets.some((b, i) => b !== buckets[i])) {
      throw invalidMetricsOption('buckets', buckets, `the buckets of the other metrics plugin on this registry (${JSON.stringify(existing.buckets)}), or another "prefix"`);
    }
    return existing;
  }
  const families = new MetricFamilies(registry, prefix, buckets);
  byPrefix.set(prefix, families);
  return families;
}
