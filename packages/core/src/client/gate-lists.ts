import type { CallGate } from '../gate.js';
import { InterceptorOrder } from '../invocation.js';

// A client's gates as its calls run them. Which gates are active is kept with the observers' hooks
// (HookLists, call-state.ts): a gate is also an observer, and both parts switch together.

/** A gate registered on a client: its order and its index among the client's observers (its state). */
export interface GateEntry {
  readonly gate: CallGate;
  /**
   * The gate's `beforeCall`, read once at registration: `runGates` calls it with the gate as `this`,
   * rather than looking the method up on each gate's own class per call.
   */
  readonly beforeCall: CallGate['beforeCall'];
  readonly order: number;
  readonly index: number;
}

/** The gates of a client split at retry's position: once per call, and once per attempt. */
export interface Gates {
  readonly perCall: readonly GateEntry[];
  readonly perAttempt: readonly GateEntry[];
}

/** A client without (active) gates: every call's gate lists, shared. */
export const NO_GATES: Gates = { perCall: [], perAttempt: [] };

export function splitGates(gates: readonly GateEntry[]): Gates {
  const sorted = [...gates].sort((a, b) => a.order - b.order);
  return {
    perCall: sorted.filter((g) => g.order < InterceptorOrder.RETRY),
    perAttempt: sorted.filter((g) => g.order >= InterceptorOrder.RETRY),
  };
}
