export { serverAuth, clientAuth, AUTH_HEADER, type ServerAuthOptions, type ClientAuthOptions } from './auth-plugin.js';
export { sharedTokens, tlsIdentity, type Verifier } from './verifiers.js';
export { PRINCIPAL, type Principal } from './principal.js';
