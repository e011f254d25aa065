/**
 * A load process of the stampede bench: many registry clients (providers registering one instance,
 * consumers following a few services), instrumented from the outside — TCP connects, reads, watches
 * set, sessions and leases created — so the parent can chart what the fleet asks of the registry
 * after an outage. Configuration arrives as JSON in argv[2]; the parent talks to it over IPC.
 */
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import type { Registry } from '@trellis/core';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { zookeeperRegistry } from '@trellis/discovery-zk';
import { SERVICE_GROUP, serviceName, type EventKind, type FromLoad, type LoadConfig, type ToLoad } from './stampede-protocol.js';

const config = JSON.parse(process.argv[2]!) as LoadConfig;
const send = (message: FromLoad): void => void process.send?.(message);
/** Errors the registries reported while the fleet settles, by code (printed with the progress). */
const errorCodes = new Map<string, number>();
const tally = (error: { code: string; message: string }): void => {
  errorCodes.set(error.code, (errorCodes.get(error.code) ?? 0) + 1);
  if (process.env.STAMPEDE_DEBUG && (errorCodes.get(error.code) ?? 0) <= 3) console.error(error.message);
};
const now = (): number => performance.timeOrigin + performance.now();

const events: Record<EventKind, number[]> = { connect: [], session: [], create: [], read: [], watch: [], expired: [] };
/** Events are kept from the outage on: the parent charts what follows the restart. */
let recording = false;
const record = (kind: EventKind, count = 1): void => {
  if (!recording) return;
  const t = now();
  for (let i = 0; i < count; i++) events[kind].push(t);
};
/** Registry clients that got through to the registry since the outage began. */
const backAfterOutage = new Set<number>();
const back = (client: number): void => {
  if (!recording || backAfterOutage.has(client)) return;
  backAfterOutage.add(client);
  record('session');
};

// Every TCP connection this process opens is to the registry (nothing else runs here).
const connect = Socket.prototype.connect;
Socket.prototype.connect = function counted(this: Socket, ...args: unknown[]) {
  this.once('connect', () => record('connect'));
  return (connect as (...a: unknown[]) => Socket).apply(this, args);
} as typeof Socket.prototype.connect;

/** etcd: what each registry client asks, seen by a gRPC interceptor of its own (`client.interceptors`). */
function etcdInterceptor(client: number): Interceptor {
  return (options, nextCall) => {
    const method = options.method_definition.path.split('/').pop();
    if (method === 'Range') record('read');
    if (method === 'LeaseGrant') record('create');
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveMessage(message, nextMessage) {
            back(client);
            nextMessage(message);
          },
        });
      },
      sendMessage(message: { create_request?: unknown }, next) {
        if (method === 'Watch' && message?.create_request) record('watch');
        next(message);
      },
    });
  };
}

/** ZooKeeper: the library's requests, and the watches it sets again on a reconnection (SetWatches). */
function instrumentZooKeeper(): void {
  const from = { paths: [dirname(require.resolve('@trellis/discovery-zk'))] };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const library = require(require.resolve('node-zookeeper-client', from)) as { createClient(s: string): object };
  const proto = Object.getPrototypeOf(library.createClient('127.0.0.1:1')) as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['getChildren', 'getData', 'exists']) {
    const original = proto[name]!;
    proto[name] = function counted(this: unknown, ...args: unknown[]) {
      record('read');
      if (typeof args[1] === 'function' && args.length >= 3) record('watch');
      return original.apply(this, args);
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const manager = require(require.resolve('node-zookeeper-client/lib/ConnectionManager.js', from)) as { prototype: Record<string, (...args: unknown[]) => unknown> };
  type Manager = { watcherManager: { getDataWatcherPaths(): string[]; getChildWatcherPaths(): string[]; getExistenceWatcherPaths(): string[] }; sentWatches?: number };
  // The library sends the session's watches (SetWatches) with every connection attempt; they are set
  // on the server once the session is established (state CONNECTED, 2) on that connection.
  const onSocketConnected = manager.prototype.onSocketConnected!;
  manager.prototype.onSocketConnected = function counted(this: Manager, ...args: unknown[]) {
    const w = this.watcherManager;
    this.sentWatches = w.getDataWatcherPaths().length + w.getChildWatcherPaths().length + w.getExistenceWatcherPaths().length;
    return onSocketConnected.apply(this, args);
  };
  const setState = manager.prototype.setState!;
  manager.prototype.setState = function counted(this: Manager, state: unknown) {
    if (state === 2 && this.sentWatches) record('watch', this.sentWatches);
    this.sentWatches = 0;
    return setState.call(this, state);
  };
}

function makeRegistry(client: number): Registry {
  if (config.kind === 'etcd') {
    return etcdRegistry({
      // A fresh registry's register() fails after connectTimeoutMs (a wrong address must fail start-up);
      // 500 of them starting on a loaded machine need longer than 3 s. It plays no part in reconnects.
      endpoints: config.address, snapshotDir: false, connectTimeoutMs: 30_000, ...config.registryOptions,
      client: { interceptors: [etcdInterceptor(client)] },
      onError: (error) => {
        tally(error);
        if (error.code === 'ERR_REGISTRY_LEASE_LOST') record('expired');
      },
    });
  }
  return zookeeperRegistry({
    connectString: config.address, snapshotDir: false, ...config.registryOptions,
    onEvent: (event) => {
      if (event.type === 'connected') {
        back(client);
        if (event.fresh) record('create');
      }
      if (event.type === 'expired') record('expired');
    },
    onError: tally,
  });
}

async function main(): Promise<void> {
  if (config.kind === 'zookeeper') instrumentZooKeeper();
  const registries: Registry[] = [];
  /** Per consumer, per followed service: the size of the last list delivered. */
  const lists: Map<string, number>[] = [];
  const registering: Promise<void>[] = [];
  let registered = 0;
  for (let i = 0; i < config.providers + config.consumers; i++) {
    // A fleet does not start in the same millisecond: 20 ms apart, 2 s for a hundred.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const client = config.firstClient + i;
    const registry = makeRegistry(client);
    registries.push(registry);
    if (i < config.providers) {
      const name = serviceName((config.firstProvider + i) % config.services);
      registering.push(registry.register({ group: SERVICE_GROUP, name, version: '1.0.0' }, {
        host: '10.1.0.1', port: 30_000 + client, weight: 100, version: '1.0.0', tags: {}, protocol: 'trellis', startedAt: Date.now(),
      }).then(() => void registered++));
    } else {
      const seen = new Map<string, number>();
      lists.push(seen);
      for (let k = 0; k < config.servicesPerConsumer; k++) {
        const name = serviceName((client + k) % config.services);
        registry.subscribe({ group: SERVICE_GROUP, name }, (list) => seen.set(name, list.length));
      }
    }
  }
  const complete = (): number =>
    lists.filter((seen) => seen.size === config.servicesPerConsumer && [...seen].every(([name, n]) => n === (config.expected[name] ?? 0))).length;
  const progress = setInterval(() => {
    const some = lists.filter((seen) => seen.size === config.servicesPerConsumer).length;
    console.error(`[stampede load ${config.firstClient}] ${registered}/${config.providers} registered, ${complete()}/${lists.length} consumers complete (${some} with every list), errors ${JSON.stringify([...errorCodes])}`);
  }, 15_000);
  await Promise.all(registering);
  while (complete() < lists.length) await new Promise((resolve) => setTimeout(resolve, 100));
  clearInterval(progress);
  send({ type: 'ready' });

  process.on('message', (message: ToLoad) => {
    if (message.type === 'outage') recording = true;
    else if (message.type === 'report') {
      if (complete() < lists.length) {
        const seen = lists.reduce((sum, l) => sum + [...l.values()].reduce((a, b) => a + b, 0), 0);
        const expected = lists.reduce((sum, l) => sum + [...l.keys()].reduce((a, name) => a + (config.expected[name] ?? 0), 0), 0);
        console.error(`[stampede load ${config.firstClient}] at the end: ${complete()}/${lists.length} consumers complete, ${seen} instances listed of ${expected}, errors ${JSON.stringify([...errorCodes])}`);
      }
      send({ type: 'report', report: { events, completeConsumers: complete() } });
    }
    else if (message.type === 'stop') void Promise.all(registries.map((r) => r.close().catch(() => undefined))).finally(() => process.exit(0));
  });
}

main().catch((error: Error) => {
  send({ type: 'failed', message: error.stack ?? error.message });
  process.exit(1);
});
