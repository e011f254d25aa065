export { retry, type RetryPlugin } from './plugin.js';
export type { RetryOptions, MethodRetryOptions, BudgetOptions, HedgeOptions } from './options.js';
export {
  DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_ON, DEFAULT_BACKOFF, DEFAULT_BUDGET, DEFAULT_HEDGE_BUDGET, DEFAULT_MIN_SAMPLES, MAX_ATTEMPTS_LIMIT,
} from './options.js';
export { retryAttemptsKey, type AttemptRecord, type RetryDecision } from './attempt-record.js';
export { retryStopReason, RetryStoppedError } from './give-up.js';
export { RetryBudget, type BudgetSnapshot } from './retry-budget.js';
export { LatencyTracker } from './latency-tracker.js';
