import type { EchoRequest } from '../payload.js';

/**
 * One outstanding call of the closed loop: its three completion callbacks are built once per slot
 * and handed to every call the slot makes, so completing a call allocates no closure. A kind uses
 * whichever shape its API wants: `ok`/`fail` for a promise (`.then(slot.ok, slot.fail)`), `node`
 * for a Node-style callback (grpc-js), `ok`/`fail` directly for a hand-written transport.
 */
export interface CallSlot {
  readonly ok: (response: unknown) => void;
  readonly fail: (error: unknown) => void;
  readonly node: (error: Error | null, response?: unknown) => void;
}

/** One implementation under test: how to serve the echo, and how to call it. */
export interface BenchServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface BenchCaller {
  /**
   * Sends `request` and completes `slot` exactly once, never synchronously (the loop issues the
   * slot's next call from the completion). Errors are reported, never hidden.
   */
  call(request: EchoRequest, slot: CallSlot): void;
  close(): Promise<void>;
}

export interface Kind {
  serve(options: { plugins: boolean }): Promise<BenchServer>;
  connect(options: { port: number; connections: number; plugins: boolean }): Promise<BenchCaller>;
}
