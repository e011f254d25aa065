import { ErrorCodes, TrellisError } from '@trellis/core';
import { EtcdLeaseInvalidError } from 'etcd3';

/**
 * Codes this registry reports (thrown, or passed to `onError`). Kernel codes where the kernel has one,
 * plugin codes otherwise; all stable, all listed in the README.
 */
export const EtcdErrorCodes = {
  INVALID_OPTION: ErrorCodes.INVALID_OPTION,
  REGISTRY_UNREACHABLE: ErrorCodes.REGISTRY_UNREACHABLE,
  REGISTRY_CLOSED: 'ERR_REGISTRY_CLOSED',
  LEASE_LOST: 'ERR_REGISTRY_LEASE_LOST',
  KEY_LOST: 'ERR_REGISTRY_KEY_LOST',
  MALFORMED_DOCUMENT: 'ERR_REGISTRY_MALFORMED_DOCUMENT',
  WATCH_RESET: 'ERR_REGISTRY_WATCH_RESET',
  LISTENER_FAILED: 'ERR_REGISTRY_LISTENER_FAILED',
} as const;

/** The kernel's one factory of the bad-option error (`option "ttlSeconds" is 0; expected …`). */
export { invalidOption } from '@trellis/core';

export function unreachable(endpoints: readonly string[], what: string, cause: unknown): TrellisError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TrellisError(
    EtcdErrorCodes.REGISTRY_UNREACHABLE,
    `etcd at ${endpoints.join(', ')} is unreachable (${what}): ${reason}; check the registry's endpoints option and that etcd is running`,
    { cause },
  );
}

/** etcd answers "requested lease not found" once a lease expired or was revoked. */
export function isLeaseInvalid(error: unknown): boolean {
  return error instanceof EtcdLeaseInvalidError || (error instanceof Error && /lease not found/i.test(error.message));
}
