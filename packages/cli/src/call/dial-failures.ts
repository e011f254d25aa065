import type { GrpcClientOptions, GrpcTarget } from '@trellis/transport-grpc';
import { grpcUrl } from '../target.js';

/**
 * Why dials failed, per `host:port`, from GrpcClient's state changes. The client fails a call on a
 * channel that cannot connect with a generic "refused the call before it ran"; the reason (connect
 * ECONNREFUSED, a certificate nobody vouches for, a TLS server that wants grpcs://) only arrives
 * as the channel's `backoff` state. Errors quote it so the operator sees what to fix.
 */
export class DialFailures {
  private readonly reasons = new Map<string, string>();

  readonly onStateChange: NonNullable<GrpcClientOptions['onStateChange']> = (target: GrpcTarget, state, reason) => {
    if (state === 'backoff') this.reasons.set(grpcUrl(target, target.tls).display, reason.trim());
  };

  /** The last dial failure to `host:port`, if any. */
  reason(display: string): string | undefined {
    return this.reasons.get(display);
  }
}
