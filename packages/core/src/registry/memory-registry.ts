import { endpointFromInstance, type Endpoint, type InstanceInfo } from '../endpoint.js';
import type {
  ConfigListener, ConfigSource, Disposable, EndpointsListener, Registry, ServiceQuery,
} from '../registry.js';
import type { ServiceKey } from '../service-key.js';

const queryKey = (q: ServiceQuery): string => `${q.group}/${q.name}`;

/**
 * An in-process registry: providers and consumers in one process share it. The default for tests and
 * single-process apps; it also serves config documents so routing rules can be tried without etcd.
 */
export class MemoryRegistry implements Registry, ConfigSource {
  readonly name = 'memory';
  private readonly services = new Map<string, Map<string, Endpoint>>();
  private readonly listeners = new Map<string, Set<EndpointsListener>>();
  private readonly configs = new Map<string, string>();
  private readonly configListeners = new Map<string, Set<ConfigListener>>();

  async register(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    const endpoint = endpointFromInstance(instance);
    const key = queryKey(service);
    let providers = this.services.get(key);
    if (!providers) this.services.set(key, (providers = new Map()));
    providers.set(endpoint.id, endpoint);
    this.notify(key);
  }

  async deregister(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    const key = queryKey(service);
    if (this.services.get(key)?.delete(endpointFromInstance(instance).id)) this.notify(key);
  }

  subscribe(query: ServiceQuery, listener: EndpointsListener): Disposable {
    const key = queryKey(query);
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    // Asynchronously, like a real registry: callers must not depend on a synchronous first list.
    queueMicrotask(() => {
      if (set.has(listener)) listener(this.list(key));
    });
    return { dispose: () => set.delete(listener) };
  }

  watchConfig(query: ServiceQuery, name: string, listener: ConfigListener): Disposable {
    const key = `${queryKey(query)}/${name}`;
    let set = this.configListeners.get(key);
    if (!set) this.configListeners.set(key, (set = new Set()));
    set.add(listener);
    queueMicrotask(() => {
      if (set.has(listener)) listener(this.configs.get(key));
    });
    return { dispose: () => set.delete(listener) };
  }

  async putConfig(query: ServiceQuery, name: string, document: string | undefined): Promise<void> {
    const key = `${queryKey(query)}/${name}`;
    if (document === undefined) this.configs.delete(key);
    else this.configs.set(key, document);
    for (const listener of this.configListeners.get(key) ?? []) listener(document);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.configListeners.clear();
  }

  private list(key: string): readonly Endpoint[] {
    return [...(this.services.get(key)?.values() ?? [])];
  }

  private notify(key: string): void {
    const set = this.listeners.get(key);
    if (!set || set.size === 0) return;
    const list = this.list(key);
    for (const listener of set) listener(list);
  }
}
