import { GRPCDeadlineExceededError, isRecoverableError, type IOptions } from 'etcd3';

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['host']> extends (host: string) => infer P ? P : never;

const noDisposable = (): { dispose(): void } => ({ dispose: () => undefined });

/** Thrown by the policy of an endpoint that is not the pinned one: etcd3 then tries the next endpoint. */
class NotPinned extends Error {
  override readonly name = 'NotPinned';
}

/**
 * Sends every request of one registry — reads, writes, keepalives, the watch stream — to one etcd
 * member, and moves to another member when that one fails, as etcd's own clientv3 does.
 *
 * etcd3 picks a random endpoint for each call. That spreads one registry's connections over every
 * member, and after a failure the next call has the same odds of landing on the bad member again. Here
 * each endpoint gets an etcd3 host policy: calls to an endpoint other than the pinned one are refused
 * before they are made, which etcd3 treats as "try the next endpoint", so every call reaches the pinned
 * member. A call that fails the way a sick member fails — unavailable (down, or no leader: the registry
 * asks etcd to refuse requests on a member without a leader), or past its deadline (hung, or cut off
 * from its peers) — moves the pin to the member that failed longest ago, so a dead member is tried
 * again last. The call itself still fails; the registry's retry, after its backoff, reaches the new
 * member. A consumer's watch moves the same way: etcd cancels a watch stream on a member that has lost
 * its leader, and etcd3 opens the new stream on the pinned member.
 */
export class EndpointPin {
  private pinned: string;
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly endpoints: readonly string[],
    private readonly random: () => number = Math.random,
    private readonly onMove: (from: string, to: string) => void = () => undefined,
  ) {
    // A random start spreads a fleet evenly over the members.
    this.pinned = endpoints[Math.floor(random() * endpoints.length)] ?? endpoints[0]!;
  }

  /** The endpoint every request goes to now. */
  get current(): string {
    return this.pinned;
  }

  /** The etcd3 host policy of `endpoint` (etcd3's `faultHandling.host`). */
  policy(endpoint: string): Policy {
    return {
      _altReturn: undefined as never,
      onSuccess: noDisposable,
      onFailure: noDisposable,
      execute: async (fn, signal) => {
        if (endpoint !== this.pinned) throw new NotPinned(`${endpoint} is not the pinned etcd endpoint (${this.pinned})`);
        try {
          return await fn({ signal: signal ?? new AbortController().signal });
        } catch (error) {
          if (isMemberFailure(error)) this.failed(endpoint);
          throw error;
        }
      },
    } as Policy;
  }

  private failed(endpoint: string): void {
    this.failedAt.set(endpoint, performance.now());
    if (endpoint !== this.pinned || this.endpoints.length < 2) return;
    const others = this.endpoints.filter((e) => e !== endpoint);
    const oldest = Math.min(...others.map((e) => this.failedAt.get(e) ?? -Infinity));
    const candidates = others.filter((e) => (this.failedAt.get(e) ?? -Infinity) === oldest);
    const next = candidates[Math.floor(this.random() * candidates.length)] ?? candidates[0]!;
    this.pinned = next;
    this.onMove(endpoint, next);
  }
}

/** Unavailable (refused, reset, no leader, request timed out on the server) or past its deadline. */
function isMemberFailure(error: unknown): boolean {
  return error instanceof Error && (isRecoverableError(error) || error instanceof GRPCDeadlineExceededError);
}
