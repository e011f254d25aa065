import { InterceptingCall, status, type Interceptor } from '@grpc/grpc-js';

/** How long a call started after an outage may wait for its first answer before it is released. */
export const RELEASE_WINDOW_MS = 100;

/**
 * Releases the calls a starting etcd holds, so a fleet's jittered reconnects stay spread.
 *
 * An etcd member opens its client port before it serves: it replays its log and (re-)elects a leader
 * first, and only then accepts connections. Meanwhile the kernel completes the TCP handshakes into the
 * listen backlog, and grpc-js queues every call behind a connection whose HTTP/2 handshake never
 * completes; when the member starts serving it takes the whole backlog at once and answers every held
 * call within a few hundred milliseconds — however well the redials were spread (measured: 761
 * connections held, 277 of 500 registries back in the first second, 25 % in one 100 ms). A ZooKeeper
 * server closes such a connection instead, and its clients' next attempt is jittered again.
 *
 * This does the same for etcd. After a call of this registry ended UNAVAILABLE (etcd down, refused,
 * reset, or without a leader), every call it starts must get a first answer (headers or a message)
 * within 100 ms, or it is cancelled with UNAVAILABLE. etcd3 then drops the channel (closing the held
 * connection) and the registry's own loops retry after their jittered backoff: the lease keepalive
 * within a third of the TTL, the watch stream after `backoff`. So only the calls started in the last
 * 100 ms before the member serves are answered together. The first answer ends the recovery: from then
 * on calls wait their own deadlines (a watch stream silent for hours is normal).
 *
 * Releasing stops `maxReleasingMs` (a third of the lease TTL) after the first release since etcd last
 * refused a connection (or answered "no leader"); calls then wait their normal deadlines again. A member that holds calls has not elected a leader
 * yet, and etcd gives every lease a full TTL when a leader is elected: a keepalive started within a
 * third of the TTL after releasing stopped and answered within its deadline (at most a third of the
 * TTL) lands inside it. The same bound covers a member that serves but answers slower than 100 ms: it
 * costs retries, never a lease.
 */
export class HeldCallRelease {
  private recovering = false;
  /** When the first call of this recovery was released (performance.now()), if one was. */
  private releasingSince: number | undefined;

  constructor(private readonly maxReleasingMs: number) {}

  /** Whether a call started now is released if it gets no answer within RELEASE_WINDOW_MS. */
  get releasing(): boolean {
    return this.recovering && (this.releasingSince === undefined || performance.now() - this.releasingSince < this.maxReleasingMs);
  }

  readonly interceptor: Interceptor = (options, nextCall) => {
    const call = nextCall(options);
    let timer: NodeJS.Timeout | undefined;
    let released = false;
    const stopTimer = (): void => {
      clearTimeout(timer);
      timer = undefined;
    };
    const answered = (): void => {
      stopTimer();
      this.recovering = false;
      this.releasingSince = undefined;
    };
    return new InterceptingCall(call, {
      start: (metadata, listener, next) => {
        if (this.releasing) {
          timer = setTimeout(() => {
            timer = undefined;
            released = true;
            this.releasingSince ??= performance.now();
            call.cancelWithStatus(
              status.UNAVAILABLE,
              `etcd accepted the connection but did not answer within ${RELEASE_WINDOW_MS} ms after an outage (still starting: replaying its log or electing); retrying after the backoff`,
            );
          }, RELEASE_WINDOW_MS);
          // A held call must not keep a process alive on its own.
          timer.unref();
        }
        next(metadata, {
          onReceiveMetadata: (received, nextMetadata) => {
            answered();
            nextMetadata(received);
          },
          onReceiveMessage: (message, nextMessage) => {
            answered();
            nextMessage(message);
          },
          onReceiveStatus: (received, nextStatus) => {
            stopTimer();
            if (received.code === status.UNAVAILABLE) {
              this.recovering = true;
              // Refused, reset, or no leader: etcd has no leader yet, so no lease clock runs; the
              // releasing period counts from the next release.
              if (!released) this.releasingSince = undefined;
            }
            nextStatus(received);
          },
        });
      },
    });
  };
}
