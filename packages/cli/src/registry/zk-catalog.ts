import { parseInstance, RegistryPaths } from '@trellis/core/spi';
import { createClient, Exception, type Client } from 'node-zookeeper-client';
import type { RegistryAddress } from './address.js';
import { CatalogBuilder, registryUnreachable, type CatalogService, type ServiceCatalog } from './catalog.js';
import { reason } from './reason.js';

type ZkAddress = Extract<RegistryAddress, { kind: 'zookeeper' }>;

/** Walks `{root}/services` and `{root}/config` with getChildren/getData on one short session. */
export class ZooKeeperCatalog implements ServiceCatalog {
  private client: Client | undefined;

  constructor(private readonly address: ZkAddress, private readonly timeoutMs: number) {}

  async services(): Promise<CatalogService[]> {
    const client = await this.connect();
    const root = this.address.root;
    const builder = new CatalogBuilder();
    try {
      const groups = await this.children(client, `${root}/services`);
      await Promise.all(groups.map(async (group) => {
        const names = await this.children(client, `${root}/services/${group}`);
        await Promise.all(names.map(async (name) => {
          const path = RegistryPaths.providers(root, { group, name });
          const ids = await this.children(client, path);
          await Promise.all(ids.map(async (id) => {
            const data = await this.data(client, `${path}/${id}`);
            if (data === undefined) return; // gone in between: the provider left
            const info = parseInstance(data);
            const matches = info !== undefined && RegistryPaths.provider(root, { group, name }, info.host, info.port) === `${path}/${id}`;
            builder.provider(group, name, id, matches ? info : undefined);
          }));
        }));
      }));
      const configGroups = await this.children(client, `${root}/config`);
      await Promise.all(configGroups.map(async (group) => {
        const names = await this.children(client, `${root}/config/${group}`);
        await Promise.all(names.map(async (name) => {
          for (const document of await this.children(client, `${root}/config/${group}/${name}`)) builder.document(group, name, document);
        }));
      }));
    } catch (error) {
      throw registryUnreachable(this.address, `reading ${root}/`, reason(error), error);
    }
    return builder.build();
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
  }

  private connect(): Promise<Client> {
    const client = createClient(this.address.connectString, { sessionTimeout: 10_000, spinDelay: 100, retries: 0 });
    this.client = client;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(registryUnreachable(this.address, 'connecting', `no session within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve(client);
      });
      client.connect();
    });
  }

  /** Children of a node, sorted; none when it does not exist. */
  private children(client: Client, path: string): Promise<string[]> {
    return this.bounded(new Promise((resolve, reject) => {
      client.getChildren(path, (error, children) => {
        if (error && isNoNode(error)) resolve([]);
        else if (error) reject(error);
        else resolve([...children].sort());
      });
    }), path);
  }

  private data(client: Client, path: string): Promise<string | undefined> {
    return this.bounded(new Promise((resolve, reject) => {
      client.getData(path, (error, data) => {
        if (error && isNoNode(error)) resolve(undefined);
        else if (error) reject(error);
        else resolve(data === undefined || data === null ? '' : data.toString('utf8'));
      });
    }), path);
  }

  /** The library queues requests forever on a lost connection: every read gets the CLI's deadline. */
  private bounded<T>(promise: Promise<T>, path: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer for ${path} within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}

function isNoNode(error: unknown): boolean {
  return (error as { getCode?: () => number }).getCode?.() === Exception.NO_NODE;
}
