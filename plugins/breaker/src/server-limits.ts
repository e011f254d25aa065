import { MetadataKeys, type MethodDescriptor, type ServerInvocation } from '@trellis/core';
import type { Clock, ServiceQuery } from '@trellis/core/spi';
import { LastHitMap } from '@trellis/core/toolkit';
import { RuleSet } from '@trellis/rules';
import type { FailurePredicate } from './failure-codes.js';
import { LimitGate, type GateContext, type GateSnapshot } from './limit-gate.js';
import { mergeServiceRule, type LimitRule, type LimiterOptions, type ServiceLimitOverlay, type ServiceLimitRule } from './limiter-options.js';
import { MethodLimits } from './method-limits.js';

/** A service's rule in force: the code's, or a live document merged over it. */
export interface ServiceLimits {
  readonly query: ServiceQuery;
  /** What the live `limits` document swaps (its fallback: the code's rule, back when the document is deleted). */
  readonly rules: RuleSet<ServiceLimitRule | undefined>;
  /** A checked document over the code's rule, field by field and method by method. */
  compile(overlay: ServiceLimitOverlay): ServiceLimitRule;
}

/** Called once for each service the server limits: where the plugin starts following its document. */
export type WatchService = (service: ServiceLimits) => void;

interface ServiceState {
  readonly name: string;
  rule: ServiceLimitRule | undefined;
  serviceGate: LimitGate | undefined;
  readonly methodGates: Map<string, LimitGate>;
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
  /** Read through the entry the previous call used: calls mostly repeat the last one's method. */
  private readonly compiled = new LastHitMap<MethodDescriptor, Compiled>();
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

  private compile(call: ServerInvocation): MethodLimits | undefined {
    const state = this.stateFor(call.service);
    const gates: LimitGate[] = [];
    if (state.serviceGate) gates.push(state.serviceGate);
    const own = state.methodGates.get(call.method.name);
    if (own) gates.push(own);
    const limits = gates.length === 0 ? undefined : new MethodLimits(gates, this.callerKey, this.isFailure);
    this.compiled.set(call.method, { generation: this.generation, limits });
    return limits;
  }

  /** Sets a service up before its first call (the server's services are known at setup): its document is followed from the start. */
  prepare(service: ServiceQuery): void {
    this.stateFor(service);
  }

  /** The state of a service, created (and its document followed) the first time it is needed. */
  private stateFor(service: ServiceQuery): ServiceState {
    const id = `${service.group}/${service.name}`;
    let state = this.services.get(id);
    if (state !== undefined) return state;
    const codeRule = this.options.services?.[service.name] ?? this.options.services?.['*'];
    state = { name: service.name, rule: undefined, serviceGate: undefined, methodGates: new Map() };
    this.services.set(id, state);
    this.install(state, codeRule);
    const target = state;
    const rules = new RuleSet<ServiceLimitRule | undefined>({ compiled: codeRule, version: 'options', origin: 'options', source: 'limiter options' });
    rules.onSwap(({ compiled }) => this.install(target, compiled));
    this.watchService?.({ query: { group: service.group, name: service.name }, rules, compile: (overlay) => mergeServiceRule(codeRule, overlay) });
    return state;
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
