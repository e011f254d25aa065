/** Reported as the tracer's instrumentation scope version; kept in step with package.json. */
export const TRACING_VERSION = '0.1.0';
export const INSTRUMENTATION_NAME = '@trellis/tracing';
