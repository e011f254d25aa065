export { breaker, type BreakerPlugin } from './breaker-plugin.js';
export {
  BREAKER_SETTINGS_SCHEMA, DEFAULT_CIRCUIT_SETTINGS, DEFAULT_ENDPOINT_CONSECUTIVE_FAILURES, type BreakerOptions, type BreakerSettings, type CircuitSettings,
} from './breaker-options.js';
export type { BreakerEvent, CircuitKind, CircuitSnapshot, CircuitState } from './events.js';
export { DEFAULT_FAILURE_CODES } from './failure-codes.js';
export { limiter, type LimiterPlugin } from './limiter-plugin.js';
export type {
  ConcurrencySetting, LimitRule, LimiterOptions, RateLimit, ServiceLimitRule, ServiceLimitOverlay, LimitRuleOverlay,
} from './limiter-options.js';
export type { GateSnapshot } from './limit-gate.js';
export {
  AutoConcurrencyLimiter, DEFAULT_AUTO_LIMITER_SETTINGS, type AutoLimiterSettings, type AutoLimiterSnapshot,
} from './auto-concurrency-limiter.js';
export { ConstantConcurrencyLimiter, type ConcurrencyLimiter } from './concurrency-limiter.js';
export { TokenBucket } from './token-bucket.js';
export { SlidingWindow, type WindowTotals } from './sliding-window.js';
export { Circuit, type CircuitOwner, type Permit, REJECT, NORMAL } from './circuit.js';
export { LIMITS_DOCUMENT_SCHEMA } from './limiter-options.js';
export { BREAKER_DOCUMENT, LIMITS_DOCUMENT, BREAKER_DOCUMENT_SPEC, LIMITS_DOCUMENT_SPEC, readBreakerDocument, readLimitsDocument } from './document-specs.js';
