import { ErrorCodes, TrellisError } from '@trellis/core';

export function invalidMetricsOption(name: string, value: unknown, expected: string): TrellisError {
  let shown: string;
  if (typeof value === 'function') shown = 'a function';
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) shown = 'an object';
  else shown = JSON.stringify(value) ?? String(value);
  return new TrellisError(ErrorCodes.INVALID_OPTION, `metrics option "${name}" is ${shown}; expected ${expected}`);
}

// Prometheus' data model: https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
