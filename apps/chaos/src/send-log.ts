import { Code, definePlugin, type Plugin } from '@trellis/core';

/** One send of a call that did not get its answer: what the kernel reported in `attemptEnd`. */
export interface FailedSend {
  /** When the send ended: ms since the run started (the origin `SendLog.take` is given, as `CallRecord.at`). */
  readonly at: number;
  readonly code: number;
  /** False only when the request provably never reached a handler. */
  readonly mayHaveRun: boolean;
  readonly message: string;
}

/**
 * A send that was written and whose answer came too late (the attempt timeout expired on a live
 * connection): what a slow process does — a loaded machine stalling the provider — not a
 * connection going away. Every other failed send (a dropped connection, a send that never ran, a
 * refused dial) means the peer or the connection it was on is gone.
 */
export function answeredLate(send: Pick<FailedSend, 'code' | 'mayHaveRun'>): boolean {
  return send.code === Code.DEADLINE_EXCEEDED && send.mayHaveRun;
}

/**
 * Every failed send of the consumer's calls, per call, from the kernel's own observer hooks: every
 * attempt retry made and every transparent re-send the kernel made inside one (a request that
 * never ran), which a call's reply alone does not show. Keyed by the request object the caller
 * passed (retry's attempts carry the same one); `take` hands a settled call's sends over and
 * forgets them, so the log holds only calls in flight.
 */
export class SendLog {
  readonly plugin: Plugin;
  private readonly failed = new Map<unknown, FailedSend[]>();

  constructor() {
    const failed = this.failed;
    this.plugin = definePlugin({
      meta: { name: '@trellis/chaos-send-log', kernel: '^0.1.0' },
      setupClient: (context) => context.observe({
        attemptEnd(attempt) {
          if (attempt.code === Code.OK) return;
          const send: FailedSend = {
            at: attempt.startedAt + attempt.latencyMs, // the client's clock: performance.now()
            code: attempt.code,
            mayHaveRun: attempt.mayHaveRun,
            message: attempt.error?.message ?? '',
          };
          const sends = failed.get(attempt.invocation.request);
          if (sends === undefined) failed.set(attempt.invocation.request, [send]);
          else sends.push(send);
        },
      }),
    });
  }

  /**
   * The failed sends of a settled call (empty if none failed), removed from the log; their times
   * counted from `origin` (a `performance.now()` reading: the run's start).
   */
  take(request: unknown, origin: number): readonly FailedSend[] {
    const sends = this.failed.get(request);
    if (sends === undefined) return [];
    this.failed.delete(request);
    return sends.map((send) => ({ ...send, at: send.at - origin }));
  }
}
