export { tracing } from './plugin.js';
export type { TracingOptions } from './options.js';
export { ATTEMPT_EVENT, RPC_SYSTEM, TrellisAttributes, type Semconv } from './attributes.js';
export { metadataGetter, metadataSetter } from './carrier.js';
export { w3cPropagator } from './w3c-propagator.js';
export { GlobalPropagator, globalPropagator } from './global-propagator.js';
export { formatTraceTree, type TreeSpan } from './trace-tree.js';
