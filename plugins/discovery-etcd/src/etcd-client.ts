import { Etcd3, type IOptions } from 'etcd3';
import type { ResolvedEtcdRegistryOptions } from './options.js';

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

/**
 * etcd3 resumes a broken watch stream by itself after a backoff of up to 30 s. RangeWatch detaches its
 * watchers on every disconnect and re-reads on its own schedule, so that resume only ever finds an
 * empty stream; a short constant delay keeps its timer from holding a closing process for 30 s.
 */
const shortBackoff: Backoff = { duration: 100, next: () => shortBackoff };

/** One etcd3 client per registry; its watch streams and channels are shared by every subscription. */
export function createEtcdClient(options: ResolvedEtcdRegistryOptions): Etcd3 {
  const { credentials, auth, grpcOptions } = options.client;
  return new Etcd3({
    hosts: [...options.endpoints],
    credentials,
    auth,
    grpcOptions: {
      // A private subchannel pool: after an outage the fresh channel etcd3 creates dials at once,
      // instead of inheriting a shared subchannel's reconnect backoff (up to 2 minutes in grpc-js).
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': options.backoff.initialMs ?? 200,
      'grpc.max_reconnect_backoff_ms': options.backoff.maxMs ?? 10_000,
      // HTTP/2 pings find a half-open connection (a watch that would otherwise wait forever).
      // etcd accepts pings every 5 s or slower from clients with open streams.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5000,
      ...grpcOptions,
    },
    // Unary calls always carry a deadline; streams get theirs where they are opened.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + options.requestTimeoutMs }),
    faultHandling: { host: () => passThrough, global: passThrough, watchBackoff: shortBackoff },
  });
}
