import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import type { Metadata } from '@trellis/core';

/**
 * Call metadata as an OpenTelemetry carrier. Trellis metadata keys are lower-case ASCII, so keys are
 * lower-cased on the way in and out: a propagator that writes `X-B3-TraceId` still round-trips.
 */
export const metadataSetter: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    carrier.set(key.toLowerCase(), value);
  },
};

/** Reads any metadata, the server's read-only `requestMetadata` too (no copy of a request's entries). */
export const metadataGetter: TextMapGetter<ReadonlyMap<string, string>> = {
  get(carrier, key) {
    return carrier.get(key.toLowerCase());
  },
  keys(carrier) {
    return [...carrier.keys()];
  },
};
