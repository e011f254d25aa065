import { ACL, Id, Permission } from 'node-zookeeper-client';
import { invalidOption } from '@trellis/core/spi';

/** Credentials sent on every connection of every client the registry opens. */
export interface ZooKeeperAuth {
  /** `digest`, ZooKeeper's built-in user:password scheme (the only one supported). */
  readonly scheme: 'digest';
  /** `user:password`. Error messages show `user:***`, never the password. */
  readonly credentials: string;
}

/**
 * The ACL of every node the registry creates. `open`: anyone may do anything (ZooKeeper's
 * OPEN_ACL_UNSAFE). `creator-writes`: everything for the `auth` user, read-only for everyone else.
 */
export type ZooKeeperAcl = 'open' | 'creator-writes';

export interface ResolvedAuth extends ZooKeeperAuth {
  /** The part before the first ":", for error messages. */
  readonly user: string;
}

const EXPECTED_AUTH = `{ scheme: 'digest', credentials: 'user:password' }`;

/**
 * What an error message may show of a value that can hold a password: the user part of
 * `user:password`, `***` for a string without ":" (it may be the password alone), the type otherwise.
 */
export function masked(value: unknown): unknown {
  if (typeof value === 'string') {
    const colon = value.indexOf(':');
    return colon === -1 ? '***' : `${value.slice(0, colon)}:***`;
  }
  return value === undefined || value === null ? value : `<${typeof value}>`;
}

export function checkAuth(value: unknown): ResolvedAuth | undefined {
  if (value === undefined) return undefined;
  // Never echo `value` itself: a string here is most likely "user:password".
  if (typeof value !== 'object' || value === null) throw invalidOption('auth', masked(value), `an object ${EXPECTED_AUTH}`);
  const { scheme, credentials } = value as { scheme?: unknown; credentials?: unknown };
  if (scheme !== 'digest') {
    const shown = typeof scheme === 'string' && !scheme.includes(':') ? scheme : masked(scheme);
    throw invalidOption('auth.scheme', shown, `"digest" (ZooKeeper's user:password scheme, the only one supported)`);
  }
  const colon = typeof credentials === 'string' ? credentials.indexOf(':') : -1;
  if (typeof credentials !== 'string' || colon < 1 || colon === credentials.length - 1) {
    throw invalidOption('auth.credentials', masked(credentials), 'a string "user:password" with a non-empty user and password');
  }
  return { scheme, credentials, user: credentials.slice(0, colon) };
}

export function checkAcl(value: unknown, auth: ResolvedAuth | undefined): ZooKeeperAcl {
  const acl = value ?? 'open';
  if (acl !== 'open' && acl !== 'creator-writes') throw invalidOption('acl', acl, '"open" (the default) or "creator-writes"');
  if (acl === 'creator-writes' && !auth) {
    // Without credentials ZooKeeper has no identity to grant the writes to, and refuses every create.
    throw invalidOption('acl', acl, `"open", or "creator-writes" together with auth: ${EXPECTED_AUTH} (only that user may write)`);
  }
  return acl;
}

const ANYONE = new Id('world', 'anyone');

/** The ACL list passed to every create, parents included. */
export function nodeAcl(acl: ZooKeeperAcl): ACL[] {
  if (acl === 'open') return [new ACL(Permission.ALL, ANYONE)];
  // The `auth` id stands for whoever the creating connection authenticated as: the server stores
  // `digest:user:base64(sha1(user:password))`, so no password hash needs computing here.
  return [new ACL(Permission.ALL, new Id('auth', '')), new ACL(Permission.READ, ANYONE)];
}
