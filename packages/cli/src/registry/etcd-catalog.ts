import { parseInstance, RegistryPaths } from '@trellis/core/spi';
import { Etcd3 } from 'etcd3';
import type { RegistryAddress } from './address.js';
import { CatalogBuilder, registryUnreachable, type CatalogService, type ServiceCatalog } from './catalog.js';
import { reason } from './reason.js';

type EtcdAddress = Extract<RegistryAddress, { kind: 'etcd' }>;

/** Two range reads (providers, then document keys only) over etcd3, each with a deadline. */
export class EtcdCatalog implements ServiceCatalog {
  private readonly client: Etcd3;

  constructor(private readonly address: EtcdAddress, private readonly timeoutMs: number) {
    this.client = new Etcd3({
      hosts: [...address.endpoints],
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      // A private subchannel and a short reconnect backoff: a CLI run is short, and must not inherit waits.
      grpcOptions: { 'grpc.use_local_subchannel_pool': 1, 'grpc.initial_reconnect_backoff_ms': 100 },
    });
  }

  async services(): Promise<CatalogService[]> {
    const root = this.address.root;
    const servicesPrefix = `${root}/services/`;
    const configPrefix = `${root}/config/`;
    let providers: Record<string, string>;
    let documents: string[];
    try {
      [providers, documents] = await Promise.all([
        this.client.getAll().prefix(servicesPrefix).strings(),
        this.client.getAll().prefix(configPrefix).keys(),
      ]);
    } catch (error) {
      throw registryUnreachable(this.address, `reading ${root}/`, reason(error), error);
    }
    const builder = new CatalogBuilder();
    for (const [key, value] of Object.entries(providers)) {
      // {group}/{service}/providers/{host:port}
      const parts = key.slice(servicesPrefix.length).split('/');
      if (parts.length !== 4 || parts[2] !== 'providers') continue;
      const [group, name, , id] = parts as [string, string, string, string];
      // Consumers skip a document whose key and content disagree; so does the listing.
      const info = parseInstance(value);
      const matches = info !== undefined && RegistryPaths.provider(root, { group, name }, info.host, info.port) === key;
      builder.provider(group, name, id, matches ? info : undefined);
    }
    for (const key of documents) {
      const parts = key.slice(configPrefix.length).split('/');
      if (parts.length === 3) builder.document(parts[0]!, parts[1]!, parts[2]!);
    }
    return builder.build();
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
