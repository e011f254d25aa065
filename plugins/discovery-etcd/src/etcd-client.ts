import { ExponentialBackoff, type BackoffOptions } from '@trellis/core/spi';
import { Etcd3, type IOptions } from 'etcd3';
import type { EndpointPin } from './endpoint-pin.js';
import { HeldCallRelease } from './held-call-release.js';
import type { ResolvedEtcdRegistryOptions } from './options.js';
import { requireLeader } from './require-leader.js';

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

const noDisposable = (): { dispose(): void } => ({ dispose: () => undefined });

/**
 * etcd3's default fault handling retries three times at once and opens a 5 s circuit per host after
 * three failures: it would hide an outage from our loops and hold calls back for seconds after etcd is
 * back. The registry's own loops retry with jittered backoff, so every call goes straight through.
 */
const passThrough: Policy = {
  _altReturn: undefined as never,
  onSuccess: noDisposable,
  onFailure: noDisposable,
  execute: async (fn, signal) => fn({ signal: signal ?? new AbortController().signal }),
};

type Backoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

/** Two reconnect delays asked for within this long belong to one broken stream. */
const SAME_FAILURE_MS = 50;

/**
 * The pacing of etcd3's watch-stream reconnects, in the registry's backoff: jittered and growing to
 * `backoff.maxMs`, so a fleet that lost etcd comes back spread out (etcd3's own backoff has no jitter).
 * etcd3 asks the object it was given for a first step after every answer from etcd — that resets it —
 * and each step for the next one.
 *
 * etcd3 handles one broken stream twice (its 'error' and then its 'end') and arms a reconnect timer
 * each time. With two different delays the second timer fires after the first reconnect, and when that
 * one has failed again it opens another stream: every failure leaves one more timer behind, and a
 * registry retrying into an outage or a starting member reconnects ever more often (measured: a
 * watch stream every ~175 ms instead of every 1.5–4.5 s). Both timers of one failure get the same
 * delay here, so the second finds the stream reconnecting and does nothing.
 */
export function watchBackoff(options: BackoffOptions): Backoff {
  const backoff = new ExponentialBackoff(options);
  let last: { at: number; ms: number } | undefined;
  const delay = (): number => {
    const at = performance.now();
    if (last === undefined || at - last.at > SAME_FAILURE_MS) last = { at, ms: backoff.next() };
    return last.ms;
  };
  const step = (): Backoff => ({
    get duration() {
      return delay();
    },
    next: step,
  });
  return {
    duration: 0,
    next: () => {
      backoff.reset();
      last = undefined;
      return step();
    },
  };
}

/**
 * One etcd3 client per registry; its watch stream and channels are shared by every subscription. Every
 * request carries etcd's require-leader flag, goes to the member `pin` chooses, and fails over to
 * another member when that one fails; a broken watch stream is resumed by etcd3 on the pinned member
 * after a jittered backoff (RangeWatch keeps the revision it resumes from). After an outage, calls a
 * starting member holds without answering are released (HeldCallRelease), so the fleet stays spread.
 */
export function createEtcdClient(options: ResolvedEtcdRegistryOptions, pin: EndpointPin): Etcd3 {
  const { credentials, auth, grpcOptions, interceptors = [] } = options.client;
  const release = new HeldCallRelease((options.ttlSeconds * 1000) / 3);
  return new Etcd3({
    hosts: [...options.endpoints],
    credentials,
    auth,
    grpcOptions: {
      // A private subchannel pool: after an outage the fresh channel etcd3 creates dials at once,
      // instead of inheriting a shared subchannel's reconnect backoff (up to 2 minutes in grpc-js).
      'grpc.use_local_subchannel_pool': 1,
      // The registry paces its own retries (jittered) and etcd3 replaces a failed channel with a fresh
      // one, which dials at once. What grpc-js would add on its own — a channel etcd3 keeps a second
      // after a failure, redialling from 200 ms with little jitter — makes the whole fleet dial within
      // a few hundred ms of etcd's port opening: its own redials wait out the registry's spread.
      'grpc.initial_reconnect_backoff_ms': options.backoff.maxMs ?? 3000,
      'grpc.max_reconnect_backoff_ms': options.backoff.maxMs ?? 3000,
      // HTTP/2 pings find a half-open connection (a watch that would otherwise wait forever).
      // etcd accepts pings every 5 s or slower from clients with open streams.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5000,
      ...grpcOptions,
      interceptors: [requireLeader, release.interceptor, ...interceptors],
    } as IOptions['grpcOptions'],
    // Unary calls always carry a deadline; streams get theirs where they are opened.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + options.requestTimeoutMs }),
    faultHandling: { host: (endpoint) => pin.policy(endpoint), global: passThrough, watchBackoff: watchBackoff(options.backoff) },
  });
}
