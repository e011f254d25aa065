import type { Plugin } from '@trellis/core';

/**
 * Every governance plugin that exists, configured as a production user would, for the "all plugins"
 * scenario. Loaded by name so a plugin that is not built yet is reported as missing, not a crash.
 */
interface PluginSpec {
  readonly pkg: string;
  readonly factory: string;
  readonly side: 'client' | 'server' | 'both';
  readonly options?: () => unknown;
}

const BENCH_TOKEN = 'bench-token-0123456789abcdef';

const SPECS: readonly PluginSpec[] = [
  { pkg: '@trellis/tracing', factory: 'tracing', side: 'both' },
  { pkg: '@trellis/metrics', factory: 'metrics', side: 'both' },
  { pkg: '@trellis/health', factory: 'health', side: 'both', options: () => ({ intervalMs: 1000 }) },
  { pkg: '@trellis/router-ip', factory: 'ipRouter', side: 'client' },
  { pkg: '@trellis/router-param', factory: 'paramRouter', side: 'client' },
  { pkg: '@trellis/lb-lalb', factory: 'lalb', side: 'client' },
  { pkg: '@trellis/retry', factory: 'retry', side: 'client' },
  { pkg: '@trellis/auth', factory: 'clientAuth', side: 'client', options: () => ({ credential: BENCH_TOKEN }) },
  {
    pkg: '@trellis/auth', factory: 'serverAuth', side: 'server',
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    options: () => ({ verifier: require('@trellis/auth').sharedTokens({ [BENCH_TOKEN]: { id: 'bench', roles: [] } }) }),
  },
  { pkg: '@trellis/breaker', factory: 'breaker', side: 'client' },
  // A limit far above what the benchmark offers: the cost of checking it, never a rejection.
  { pkg: '@trellis/breaker', factory: 'limiter', side: 'server', options: () => ({ services: { '*': { qps: 100_000_000, burst: 100_000_000 } } }) },
];

export const loadedGovernance: string[] = [];
export const missingGovernance: string[] = [];

function build(side: 'client' | 'server'): Plugin[] {
  const plugins: Plugin[] = [];
  loadedGovernance.length = 0;
  missingGovernance.length = 0;
  // TRELLIS_BENCH_SKIP=@trellis/retry,… leaves plugins out, to measure each one's share of the cost.
  const skip = new Set((process.env.TRELLIS_BENCH_SKIP ?? '').split(',').filter(Boolean));
  for (const spec of SPECS) {
    if (spec.side !== 'both' && spec.side !== side) continue;
    if (skip.has(spec.pkg)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const factory = require(spec.pkg)[spec.factory] as ((options?: unknown) => Plugin) | undefined;
      if (typeof factory !== 'function') throw new Error(`no export ${spec.factory}`);
      plugins.push(factory(spec.options?.()));
      loadedGovernance.push(spec.pkg);
    } catch (error) {
      missingGovernance.push(`${spec.pkg} (${(error as Error).message.split('\n')[0]})`);
    }
  }
  return plugins;
}

export const clientGovernance = (): Plugin[] => build('client');
export const serverGovernance = (): Plugin[] => build('server');
