import { MetadataKeys, type MethodDescriptor, type ServerInvocation } from '@trellis/core';
import type { Clock, Disposable, ServiceQuery } from '@trellis/core/spi';
import type { FailurePredicate } from './failure-codes.js';
import { LimitGate, type GateContext, type GateSnapshot } from './limit-gate.js';
import { mergeServiceRule, type LimitRule, type LimiterOptions, type ServiceLimitRule } from './limiter-options.js';
import { readLimitsDocument } from './live-documents.js';
import { MethodLimits } from './method-limits.js';
import type { Source } from './validate.js';

/** Starts watching a service's live document; called on the first call of each service. */
export type WatchService = (query: ServiceQuery, apply: (source: Source, text: string | undefined) => void) => Disposable | undefined;

interface ServiceState {
  readonly name: string;
  readonly codeRule: ServiceLimitRule | undefined;
  rule: ServiceLimitRule | undefined;
  serviceGate: LimitGate | undefined;
  readonly methodGates: Map<string, LimitGate>;
  watch: Disposable | undefined;
}

interface Compiled {
  readonly generation: number;
  readonly limits: MethodLimits | undefined;
}

/**
 * The limits in force on one server: rules from code and live documents, compiled per method into
 * the gates its calls pass. Compiled lists are cached per method descriptor (the server's are
 * stable) and rebuilt after a document changes anything (`generation`).
 */
export class ServerLimits {
  private readonly services = new Map<string, ServiceState>();
  private readonly compiled = new Map<MethodDescriptor, Compiled>();
  private generation = 0;
  private readonly callerKey: string;
  private readonly context: GateContext;

  constructor(
    private readonly options: LimiterOptions,
    private readonly clock: Clock,
    private readonly isFailure: FailurePredicate,
    private readonly watchService: WatchService | undefined,
  ) {
    this.callerKey = options.callerKey ?? MetadataKeys.CALLER;
    this.context = { maxCallers: options.maxCallers ?? 10_000, random: options.random ?? Math.random };
  }

  /** The gates for this call's method; undefined when no limit applies (the fast path). */
  forCall(call: ServerInvocation): MethodLimits | undefined {
    const cached = this.compiled.get(call.method);
    if (cached !== undefined && cached.generation === this.generation) return cached.limits;
    return this.compile(call);
  }

  snapshot(): GateSnapshot[] {
    const now = this.clock.now();
    const out: GateSnapshot[] = [];
    for (const state of this.services.values()) {
      if (state.serviceGate) out.push(state.serviceGate.snapshot(now));
      for (const gate of state.methodGates.values()) out.push(gate.snapshot(now));
    }
    return out;
  }

  close(): void {
    for (const state of this.services.values()) state.watch?.dispose();
  }

  private compile(call: ServerInvocation): MethodLimits | undefined {
    const state = this.stateFor(call.service);
    const gates: LimitGate[] = [];
    if (state.serviceGate) gates.push(state.serviceGate);
    const own = state.methodGates.get(call.method.name);
    if (own) gates.push(own);
    const limits = gates.length === 0 ? undefined : new MethodLimits(gates, this.callerKey, this.clock, this.isFailure);
    this.compiled.set(call.method, { generation: this.generation, limits });
    return limits;
  }

  private stateFor(service: ServiceQuery): ServiceState {
    const id = `${service.group}/${service.name}`;
    let state = this.services.get(id);
    if (state !== undefined) return state;
    const codeRule = this.options.services?.[service.name] ?? this.options.services?.['*'];
    state = { name: service.name, codeRule, rule: undefined, serviceGate: undefined, methodGates: new Map(), watch: undefined };
    this.services.set(id, state);
    this.install(state, codeRule);
    const target = state;
    state.watch = this.watchService?.({ group: service.group, name: service.name }, (source, text) => this.applyDocument(target, source, text));
    return state;
  }

  private applyDocument(state: ServiceState, source: Source, text: string | undefined): void {
    let rule = state.codeRule;
    if (text !== undefined) {
      rule = mergeServiceRule(state.codeRule, readLimitsDocument(source, text));
    }
    this.install(state, rule);
  }

  /** Builds the gates of a rule, keeping every gate whose own rule did not change. */
  private install(state: ServiceState, rule: ServiceLimitRule | undefined): void {
    const now = this.clock.now();
    state.rule = rule;
    const { methods, ...serviceLevel } = rule ?? {};
    state.serviceGate = this.gate(state.name, serviceLevel, state.serviceGate, now);
    const previous = new Map(state.methodGates);
    state.methodGates.clear();
    for (const [method, methodRule] of Object.entries(methods ?? {})) {
      const gate = this.gate(`${state.name}/${method}`, methodRule, previous.get(method), now);
      if (gate) state.methodGates.set(method, gate);
    }
    this.generation++;
  }

  private gate(scope: string, rule: LimitRule, previous: LimitGate | undefined, now: number): LimitGate | undefined {
    if (rule.qps === undefined && rule.perCaller === undefined && rule.callers === undefined && rule.maxConcurrency === undefined) return undefined;
    const key = JSON.stringify(rule);
    if (previous !== undefined && previous.ruleKey === key) return previous;
    return new LimitGate(scope, rule, key, now, this.context);
  }
}
