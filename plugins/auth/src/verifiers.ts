import { timingSafeEqual } from 'node:crypto';
import { invalidOption, type ServerInvocation } from '@trellis/core';
import type { Principal } from './principal.js';

/**
 * Turns a call's credential into a principal, or undefined when the credential is missing or wrong.
 * May be async (a token introspection endpoint, a key lookup).
 */
export type Verifier = (credential: string | undefined, call: ServerInvocation) => Principal | undefined | Promise<Principal | undefined>;

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
  return (credential) => {
    if (credential === undefined) return undefined;
    const given = Buffer.from(credential.replace(/^Bearer\s+/i, ''));
    let found: Principal | undefined;
    for (const [token, principal] of entries) {
      // Compare against every token, equal length or not, so timing reveals nothing.
      const match = token.length === given.length && timingSafeEqual(token, given);
      if (match) found = principal;
    }
    return found;
  };
}

/** The mTLS identity (certificate CN) as the principal, with roles looked up per identity. */
export function tlsIdentity(roles: Readonly<Record<string, readonly string[]>> = {}): Verifier {
  return (_credential, call) => {
    const id = call.peer.identity;
    return id === undefined ? undefined : { id, roles: roles[id] ?? [] };
  };
}
