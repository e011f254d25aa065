import type { Registry } from '@trellis/core';

/** Which registry the demo runs on: the embedded static list (default) or a real etcd. */
export type RegistryChoice = { kind: 'static' } | { kind: 'etcd'; endpoints: string };

export function createRegistry(choice: RegistryChoice): Registry {
  if (choice.kind === 'etcd') {
    // Loaded lazily: the default demo needs no etcd client.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { etcdRegistry } = require('@trellis/discovery-etcd') as typeof import('@trellis/discovery-etcd');
    return etcdRegistry({ endpoints: choice.endpoints, ttlSeconds: 5 });
  }
  throw new Error(`the ${choice.kind} registry needs no factory`);
}
