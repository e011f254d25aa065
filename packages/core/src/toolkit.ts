/**
 * Small shared helpers for plugins, apps and benches: one definition of each, so that two packages
 * never compute the same figure two ways. Stable API, like `@trellis/core/spi`.
 */
export { percentile, percentileOfSorted, percentiles, median } from './toolkit/percentile.js';
export { SlidingWindowCounter, type SlidingWindowOptions } from './toolkit/sliding-window.js';
export { LastHitMap } from './toolkit/last-hit-map.js';
export { rateLimitedWarning } from './toolkit/rate-limited-warning.js';
export {
  parseOptions, schemaIssues, defineFormat, schemaFormats, expectedOf, joinPath, show, type SchemaIssue,
} from './toolkit/options-schema.js';
export { BACKOFF_OPTIONS_SCHEMA } from './toolkit/backoff-schema.js';
export { invalidOption, InvalidOptionError, describeValue } from './errors.js';
/**
 * TypeBox, the schema builder of the options/schema layer: plugins build their options schemas with
 * this `Type`, so the whole project uses one copy (and one version) of it.
 */
export { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox';
