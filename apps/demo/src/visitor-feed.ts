/**
 * The demo's stream (issue #18): a live feed of visitor counts, one event per tick of a clock every
 * provider shares (`seq` = wall-clock ms / TICK_MS), so a subscriber that moves to another provider
 * knows exactly which ticks it missed.
 *
 * Provider side: `visitorEvents` yields the ticks from the one after `after` (when it is no older
 * than REPLAY_TICKS: a provider can tell what a recent tick was) and ends the stream with
 * UNAVAILABLE when the provider starts a graceful stop, so subscribers move on at once instead of
 * holding the drain open. Consumer side: `followVisitors` subscribes, re-subscribes elsewhere after a
 * failure (the balancer picks again; the stopped provider has left the list), and counts what it got
 * and what it missed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, RpcError, type ResponseStream, type ServerInvocation } from '@trellis/core';

export const TICK_MS = 100;
/** How far back a provider resumes a feed: ticks are derived from the clock, so recent ones can be re-sent. */
export const REPLAY_TICKS = 20;

export interface VisitorsRequest { after?: number | string }
export interface VisitorEvent { seq: number | string; visitors: number; servedBy: string }

const currentTick = () => Math.floor(Date.now() / TICK_MS);

/** The Visitors handler of one provider. `stopping` aborts when the provider begins a graceful stop. */
export async function* visitorEvents(
  request: VisitorsRequest, call: ServerInvocation, name: string, visitors: () => number, stopping: AbortSignal,
): AsyncGenerator<VisitorEvent> {
  const after = Number(request.after ?? 0);
  let seq = after > 0 && currentTick() - after <= REPLAY_TICKS ? after + 1 : currentTick();
  const stop = AbortSignal.any([call.signal, stopping]);
  for (;;) {
    const wait = (seq + 1) * TICK_MS - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal: stop }).catch(() => undefined);
    if (call.signal.aborted) return;
    if (stopping.aborted) throw new RpcError(Code.UNAVAILABLE, `${name} is stopping; subscribe again`);
    yield { seq, visitors: visitors(), servedBy: name };
    seq++;
  }
}

/** What a subscriber saw over its whole run. */
export interface FeedReport {
  events: number;
  /** Ticks between two received events that never arrived. */
  missed: number;
  /** Subscriptions after the first (each after a stream failed). */
  resubscriptions: number;
  /** Providers that served the feed, in order. */
  servedBy: string[];
  /** Set when streams cannot run at all (a transport without stream support). */
  unsupported?: string;
}

export interface FollowOptions {
  /** Opens one subscription (the typed stub's `visitors`). */
  readonly subscribe: (request: VisitorsRequest, signal: AbortSignal) => ResponseStream<VisitorEvent>;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** Called with every event received (tests wait on it). */
  readonly onEvent?: (event: VisitorEvent) => void;
}

/**
 * Follows the feed until `signal` aborts, re-subscribing after every failure with the last seen tick.
 * A transport without streams (UNIMPLEMENTED before anything ran) is reported once, not retried.
 */
export async function followVisitors({ subscribe, signal, log, onEvent }: FollowOptions): Promise<FeedReport> {
  const report: FeedReport = { events: 0, missed: 0, resubscriptions: 0, servedBy: [] };
  let last = 0;
  while (!signal.aborted) {
    try {
      for await (const event of subscribe({ after: last }, signal)) {
        const seq = Number(event.seq);
        onEvent?.(event);
        if (report.servedBy.at(-1) !== event.servedBy) {
          if (report.servedBy.length > 0) log(`  visitor feed now from ${event.servedBy}${last > 0 ? `: resumed at tick ${seq}, ${Math.max(0, seq - last - 1)} missed` : ''}`);
          report.servedBy.push(event.servedBy);
        }
        if (last > 0 && seq > last + 1) report.missed += seq - last - 1;
        if (seq > last) {
          last = seq;
          report.events++;
        }
      }
      if (signal.aborted) break;
    } catch (error) {
      if (signal.aborted) break;
      const failure = RpcError.from(error);
      if (failure.code === Code.UNIMPLEMENTED && report.events === 0) {
        report.unsupported = failure.message;
        log(`  visitor feed: streams are not available here — ${failure.message}`);
        return report;
      }
      log(`  visitor feed from ${report.servedBy.at(-1) ?? '?'} ended (${Code[failure.code]}: ${failure.message}); subscribing again`);
    }
    report.resubscriptions++;
    // A short pause, so a feed that fails at once does not spin.
    await sleep(20, undefined, { signal }).catch(() => undefined);
  }
  return report;
}

/** The summary line of a feed report. */
export function describeFeed(report: FeedReport): string {
  if (report.unsupported !== undefined) return `visitor feed (server stream): not run — ${report.unsupported}`;
  const path = report.servedBy.join(' → ') || 'nobody';
  return `visitor feed (server stream): ${report.events} events from ${path}, ${report.resubscriptions} re-subscription(s), ${report.missed === 0 ? 'none missed' : `${report.missed} missed`}`;
}
