import { createContextKey } from '@trellis/core';

/** Who is calling, as established by a verifier. */
export interface Principal {
  /** Stable identity: a service name, a user id, a certificate CN. */
  readonly id: string;
  /** Roles or scopes the per-method rules check. */
  readonly roles: readonly string[];
}

/** The authenticated principal of a server call, for handlers and later interceptors. */
export const PRINCIPAL = createContextKey<Principal | undefined>(undefined, { description: 'trellis.auth.principal' });
