import { Exception } from 'node-zookeeper-client';
import { TrellisError } from '@trellis/core';
import { ErrorCodes } from '@trellis/core/spi';
import type { ResolvedAuth } from './auth.js';
import { zkCode } from './zk-handle.js';

/**
 * Codes this registry throws or passes to `onError`: the kernel's where it has one, the same plugin
 * codes as @trellis/discovery-etcd otherwise, so both registries read the same in logs.
 */
export const ZooKeeperErrorCodes = {
  INVALID_OPTION: ErrorCodes.INVALID_OPTION,
  SERVICE_INVALID: ErrorCodes.SERVICE_INVALID,
  REGISTRY_UNREACHABLE: ErrorCodes.REGISTRY_UNREACHABLE,
  REGISTRY_CLOSED: 'ERR_REGISTRY_CLOSED',
  /** Reported: the session was lost; a new one re-created every registration and watch. */
  SESSION_EXPIRED: 'ERR_REGISTRY_SESSION_EXPIRED',
  MALFORMED_DOCUMENT: 'ERR_REGISTRY_MALFORMED_DOCUMENT',
  LISTENER_FAILED: 'ERR_REGISTRY_LISTENER_FAILED',
  /**
   * Reported, or thrown by register()/putConfig(): ZooKeeper refused an operation for a reason other
   * than the connection (an ACL, say).
   */
  REQUEST_FAILED: 'ERR_REGISTRY_REQUEST_FAILED',
} as const;

export function unreachable(connectString: string, timeoutMs: number): TrellisError {
  return new TrellisError(
    ZooKeeperErrorCodes.REGISTRY_UNREACHABLE,
    `ZooKeeper at ${connectString} is unreachable: no session within ${timeoutMs} ms; ` +
      "check the registry's connectString option and that the ensemble is running",
  );
}

export function closedError(): TrellisError {
  return new TrellisError(ZooKeeperErrorCodes.REGISTRY_CLOSED, 'the ZooKeeper registry is closed; create a new one');
}

/** Wraps whatever went wrong (a library exception, a thrown listener) into a coded error for `onError`. */
export function reportable(code: `ERR_${string}`, message: string, cause: unknown): TrellisError {
  if (cause instanceof TrellisError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TrellisError(code, `${message}: ${reason}`, { cause });
}

/**
 * A write ZooKeeper refused. NO_AUTH gets its own message because it is a configuration problem: the
 * node or its parent was created with `creator-writes` by another digest user, or by any user while
 * this registry has no `auth`. The operator needs to know which credentials to configure. Shows the
 * user, never the password.
 */
export function writeFailed(what: 'write' | 'sync', path: string, cause: unknown, auth: ResolvedAuth | undefined): TrellisError {
  if (zkCode(cause) !== Exception.NO_AUTH) return reportable(ZooKeeperErrorCodes.REQUEST_FAILED, `ZooKeeper ${what} of ${path} failed`, cause);
  const who = auth ? `digest user "${auth.user}"` : 'a client without credentials';
  const fix = auth
    ? "configure the registry's auth with the credentials of the user that created the node"
    : "configure the registry's auth: { scheme: 'digest', credentials: 'user:password' } with the user that created the node";
  return new TrellisError(
    ZooKeeperErrorCodes.REQUEST_FAILED,
    `ZooKeeper's ACL refused a write to ${path} (NO_AUTH): the node, or its parent, does not let ${who} change it; ${fix}`,
    { cause },
  );
}
