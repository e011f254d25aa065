import { timingSafeEqual } from 'node:crypto';
import { invalidOption, type ServerInvocation } from '@trellis/core';
import type { Principal } from './principal.js';

/**
 * Turns a call's credential into a principal, or undefined when the credential is missing or wrong.
 * May be async (a token introspection endpoint, a key lookup).
 */
export type Verifier = ((credential: string | undefined, call: ServerInvocation) => Principal | undefined | Promise<Principal | undefined>) & {
  /**
   * The verdict depends on the credential alone, never on the call or the time (`sharedTokens`: a
   * fixed table). `serverAuth` then reuses the previous call's verdict for a call that carries the
   * very same received metadata block (`ServerInvocation.requestMetadata`, shared by byte-identical
   * blocks on a connection) instead of verifying the same bytes again. Leave it unset for a verifier
   * that looks at expiry, revocation or the peer.
   */
  readonly byCredentialOnly?: boolean;
};

/**
 * Shared bearer tokens: `{ 'token-abc': { id: 'orders', roles: ['reader'] } }`. Comparison is constant
 * time, so a token cannot be guessed byte by byte from response timing.
 */
export function sharedTokens(tokens: Readonly<Record<string, Principal>>): Verifier {
  const entries = Object.entries(tokens).map(([token, principal]) => {
    if (typeof token !== 'string' || token.length < 16) {
      throw invalidOption('sharedTokens', '<redacted>', 'tokens of at least 16 characters');
    }
    return [Buffer.from(token), principal] as const;
  });
  // The credential's bytes go into one scratch Buffer instead of a new Buffer per call, and each
  // token is compared with a view of the scratch of its own length made here once. A credential of
  // up to `longest` UTF-16 units takes at most 3 bytes per unit, so it always fits whole; a longer
  // one is longer than every token in bytes too and matches none. (With the interceptor's per-method
  // rules, 1.20 → 0.38 µs per call for the two together: README, "Cost per call".)
  const longest = entries.reduce((max, [token]) => Math.max(max, token.length), 0);
  const scratch = Buffer.alloc(longest * 3 + 4);
  const views = entries.map(([token]) => scratch.subarray(0, token.length));
  const verify: Verifier = (credential) => {
    if (credential === undefined) return undefined;
    const given = hasBearerPrefix(credential) ? credential.replace(BEARER, '') : credential;
    const length = given.length <= longest ? scratch.write(given, 0, 'utf8') : -1;
    let found: Principal | undefined;
    for (let i = 0; i < entries.length; i++) {
      const [token, principal] = entries[i]!;
      // Compare against every token, equal length or not, so timing reveals nothing.
      const match = token.length === length && timingSafeEqual(token, views[i]!);
      if (match) found = principal;
    }
    return found;
  };
  // A fixed table: the same credential always gets the same principal.
  return Object.assign(verify, { byCredentialOnly: true });
}

const BEARER = /^Bearer\s+/i;

/** Whether `credential` starts with "bearer" in any case — the only ones `BEARER` can match. */
function hasBearerPrefix(credential: string): boolean {
  if (credential.length < 7) return false;
  for (let i = 0; i < 6; i++) {
    if ((credential.charCodeAt(i) | 0x20) !== 'bearer'.charCodeAt(i)) return false;
  }
  return true;
}

/** The mTLS identity (certificate CN) as the principal, with roles looked up per identity. */
export function tlsIdentity(roles: Readonly<Record<string, readonly string[]>> = {}): Verifier {
  return (_credential, call) => {
    const id = call.peer.identity;
    return id === undefined ? undefined : { id, roles: roles[id] ?? [] };
  };
}
