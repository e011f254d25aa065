import { LastHitMap } from '@trellis/core/toolkit';
import type { CircuitSettings } from './breaker-options.js';
import { Circuit, type CircuitOwner } from './circuit.js';
import type { BreakerEvent, CircuitKind, CircuitSnapshot, CircuitState } from './events.js';

/**
 * The circuits of one level (endpoints, or methods) of one client. `version` changes whenever what a
 * router would let through changes, so the router can cache its output per (list, version).
 */
export class CircuitSet implements CircuitOwner {
  version = 0;
  /** Circuits not closed; 0 lets the router return its input untouched without looking further. */
  notClosed = 0;
  /** Told when `notClosed` leaves 0 (false) or comes back to it (true): the method gate's sleep and wake. */
  private allClosedListener: ((allClosed: boolean) => void) | undefined;
  /**
   * Read through the circuit looked up last: an attempt's start and end (and the next call's) ask
   * for the same endpoint's, so most look-ups are the same id string again and skip the Map.
   */
  private readonly circuits = new LastHitMap<string, Circuit>();
  /** Earliest moment an open circuit turns half-open (Infinity: none is open). */
  private nextDue = Infinity;

  constructor(
    readonly service: string,
    readonly kind: CircuitKind,
    private readonly emit: (event: BreakerEvent) => void,
  ) {}

  get(key: string, settings: CircuitSettings): Circuit {
    let circuit = this.circuits.get(key);
    if (circuit === undefined) this.circuits.set(key, (circuit = new Circuit(key, settings, this)));
    return circuit;
  }

  /**
   * `listener(false)` when a circuit leaves 'closed' while every other one was closed, `listener(true)`
   * when the last circuit not closed closes again or is dropped. Synchronous, before the state
   * change's event is emitted: a listener that calls at once already meets the new state.
   */
  onAllClosedChange(listener: (allClosed: boolean) => void): void {
    this.allClosedListener = listener;
  }

  peek(key: string): Circuit | undefined {
    return this.circuits.get(key);
  }

  /** Turns open circuits whose cool-down is over half-open; cheap when none is due. */
  poll(now: number): void {
    if (now < this.nextDue) return;
    for (const circuit of this.circuits.values()) circuit.promote(now);
    this.recomputeDue();
  }

  /** Forgets circuits whose key is not in `keys` (endpoints that left the directory). */
  retain(keys: ReadonlySet<string>): void {
    for (const [key, circuit] of this.circuits) {
      if (keys.has(key)) continue;
      this.circuits.delete(key);
      if (circuit.state !== 'closed') this.countNotClosed(-1);
      this.version++;
    }
    this.recomputeDue();
  }

  /** Applies new settings to every circuit; `settingsFor` undefined drops that circuit. */
  reconfigure(settingsFor: (key: string) => CircuitSettings | undefined): void {
    for (const [key, circuit] of this.circuits) {
      const settings = settingsFor(key);
      if (settings === undefined) {
        this.circuits.delete(key);
        if (circuit.state !== 'closed') this.countNotClosed(-1);
      } else {
        circuit.update(settings);
      }
    }
    this.version++;
    this.recomputeDue();
  }

  snapshot(now: number): CircuitSnapshot[] {
    this.poll(now);
    return [...this.circuits.values()].map((circuit) => {
      const { calls, failures, slow } = circuit.counts(now);
      return {
        service: this.service,
        kind: this.kind,
        key: circuit.key,
        state: circuit.state,
        calls,
        failures,
        slowCalls: slow,
        coolDownMs: circuit.coolDownMs,
        halfOpenInMs: circuit.state === 'open' ? Math.max(0, circuit.openUntil - now) : 0,
      };
    });
  }

  transitioned(circuit: Circuit, from: CircuitState, to: CircuitState, reason: string, now: number): void {
    if (from === 'closed') this.countNotClosed(1);
    if (to === 'closed') this.countNotClosed(-1);
    if (to === 'open') this.nextDue = Math.min(this.nextDue, circuit.openUntil);
    this.version++;
    this.emit({ service: this.service, kind: this.kind, key: circuit.key, from, to, reason, coolDownMs: circuit.coolDownMs, at: now });
  }

  probesChanged(): void {
    this.version++;
  }

  private countNotClosed(delta: number): void {
    const wasAllClosed = this.notClosed === 0;
    this.notClosed += delta;
    if (wasAllClosed !== (this.notClosed === 0)) this.allClosedListener?.(!wasAllClosed);
  }

  private recomputeDue(): void {
    let due = Infinity;
    for (const circuit of this.circuits.values()) if (circuit.state === 'open' && circuit.openUntil < due) due = circuit.openUntil;
    this.nextDue = due;
  }
}
