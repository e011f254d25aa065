import type { TrellisError } from '@trellis/core';
import { invalidOption } from '@trellis/core/toolkit';

/** `metrics option "port" is 70000; expected …` — core's one factory of the bad-option error. */
export function invalidMetricsOption(name: string, value: unknown, expected: string): TrellisError {
  return invalidOption(name, value, expected, 'metrics');
}

// Prometheus' data model: https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
