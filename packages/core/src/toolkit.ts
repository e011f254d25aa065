/**
 * Small shared helpers for plugins, apps and benches: one definition of each, so that two packages
 * never compute the same figure two ways. Stable API, like `@trellis/core/spi`.
 */
export { percentile, percentileOfSorted, percentiles, median } from './toolkit/percentile.js';
export { SlidingWindowCounter, type SlidingWindowOptions } from './toolkit/sliding-window.js';
