import { Type, parseOptions } from '@trellis/core/toolkit';

/**
 * The keys `serverAuth` and `clientAuth` accept, as schemas of the one options layer: a misspelt key
 * (`allowUnauthenticted`) is refused with ERR_INVALID_OPTION and a "did you mean" hint — ignored, it
 * would leave a method locked or a credential in the wrong header.
 */
const header = Type.Optional(Type.String({ minLength: 1, description: 'a metadata key such as "authorization"' }));

const ServerAuthOptionsSchema = Type.Object({
  verifier: Type.Function([Type.Unknown(), Type.Unknown()], Type.Unknown(), { description: 'a function (credential, call) => principal' }),
  rules: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: "roles per method, e.g. { 'Orders/*': ['admin'] }" })),
  allowUnauthenticated: Type.Optional(Type.Array(Type.String(), { description: "an array of 'Service/Method' names" })),
  header,
}, { additionalProperties: false });

const ClientAuthOptionsSchema = Type.Object({
  credential: Type.Unknown(), // checked by clientAuth: a string or a function returning one
  header,
}, { additionalProperties: false });

export function checkServerAuthOptions(options: object): void {
  parseOptions(ServerAuthOptionsSchema, options, 'auth');
}

export function checkClientAuthOptions(options: object): void {
  parseOptions(ClientAuthOptionsSchema, options, 'auth');
}
