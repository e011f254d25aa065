import { Type } from '@sinclair/typebox';
import { BACKOFF_OPTION_KEYS } from '../backoff.js';

/**
 * BackoffOptions as a schema of the options layer, for plugins that take backoff settings (health's
 * `redial`, the registries' `backoff`, the gRPC client's): a misspelt key (`maxMS`) is refused with a
 * "did you mean" hint. The values' rules stay in ExponentialBackoff, their one home, which the
 * plugins construct to check them; here they need only be numbers.
 */
export const BACKOFF_OPTIONS_SCHEMA = Type.Object(
  Object.fromEntries(BACKOFF_OPTION_KEYS.map((key) => [key, Type.Optional(Type.Number())])),
  { additionalProperties: false },
);
