import t from 'tap';
import { Code, RpcClient, RpcError, RpcServer, type Registry } from '@trellis/core';
import type { ConfigSource } from '@trellis/core/spi';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { zookeeperRegistry } from '@trellis/discovery-zk';
import { createEchoHandlers, loadEchoService, startEtcd, startZooKeeper, waitFor } from '@trellis/testkit';
import { breaker, limiter } from '../src/index.js';

/**
 * The `breaker` and `limits` documents from the real registries, etcd and ZooKeeper, as operators
 * publish them: each plugin applies a good version, reports a bad one and keeps the last good, and
 * goes back to the code's settings when the document is deleted.
 */
const ECHO = loadEchoService();
const QUERY = { group: 'default', name: 'trellis.test.EchoService' };

type DocumentRegistry = Registry & Required<Pick<ConfigSource, 'putConfig'>>;

const BACKENDS: { name: string; start(t: { teardown(fn: () => unknown): void }): Promise<() => DocumentRegistry> }[] = [
  {
    name: 'etcd',
    async start(t) {
      const etcd = await startEtcd();
      t.teardown(() => etcd.stop());
      return () => etcdRegistry({ endpoints: etcd.endpoints, snapshotDir: false });
    },
  },
  {
    name: 'ZooKeeper',
    async start(t) {
      const zk = await startZooKeeper();
      t.teardown(() => zk.stop());
      return () => zookeeperRegistry({ connectString: zk.connectString, snapshotDir: false });
    },
  },
];

for (const backend of BACKENDS) {
  t.test(`breaker and limits documents live from ${backend.name}`, async (t) => {
    const create = await backend.start(t);
    const operator = create();
    const limiterErrors: Error[] = [];
    const breakerErrors: Error[] = [];
    const limits = limiter({ services: { '*': { methods: { Mutate: { qps: 1, burst: 1 } } } }, onError: (e) => limiterErrors.push(e) });
    const serverRegistry = create();
    const server = new RpcServer({ host: '127.0.0.1', advertiseHost: '127.0.0.1', registry: serverRegistry, plugins: [limits] });
    server.addService(ECHO, createEchoHandlers({ servedBy: 'p' }));
    await server.start();
    const clientRegistry = create();
    const client = new RpcClient({ service: ECHO, registry: clientRegistry, plugins: [breaker({ onError: (e) => breakerErrors.push(e) })] });
    t.teardown(async () => {
      await client.close();
      await server.close({ graceMs: 0 });
      for (const registry of [clientRegistry, serverRegistry, operator]) await registry.close();
    });
    await client.waitForReady({ timeoutMs: 10_000 });
    const call = (method = 'Echo') => client.invoke(method, { message: 'x' }).then(() => 'ok', (e: RpcError) => e);
    const gates = () => limits.snapshot().map((g) => g.scope).sort();
    const breakerDocument = () => client.inspect().inspectors['@trellis/rules/default/trellis.test.EchoService/breaker'] as { origin: string; version: string };

    await operator.putConfig(QUERY, 'limits', JSON.stringify({ methods: { Echo: { qps: 1, burst: 1 } } }));
    await waitFor(() => gates().includes('trellis.test.EchoService/Echo'), { what: 'the limits document applied' });
    t.equal(await call(), 'ok');
    t.match(await call(), { code: Code.RESOURCE_EXHAUSTED }, 'the document limits Echo');

    await operator.putConfig(QUERY, 'limits', '{ "qps": -5 }');
    await waitFor(() => limiterErrors.length > 0, { what: 'the bad limits document reported' });
    t.match(limiterErrors[0], {
      code: 'ERR_INVALID_OPTION',
      message: 'limits document /trellis/config/default/trellis.test.EchoService/limits: "qps" is -5; expected a finite number > 0; the previous settings stay in force',
    });
    t.same(gates(), ['trellis.test.EchoService/Echo', 'trellis.test.EchoService/Mutate'], 'the last good limits stay');

    await operator.putConfig(QUERY, 'breaker', '{ "errorRatio": 7 }');
    await waitFor(() => breakerErrors.length > 0, { what: 'the bad breaker document reported' });
    t.match(breakerErrors[0], { code: 'ERR_INVALID_OPTION', message: /^breaker document \/trellis\/config\/default\/trellis\.test\.EchoService\/breaker: "errorRatio" is 7;/ });
    t.equal(breakerDocument().origin, 'options', "the code's settings stay");
    await operator.putConfig(QUERY, 'breaker', 'errorRatio: 0.3\n');
    await waitFor(() => breakerDocument().origin === 'live', { what: 'the breaker document applied' });
    t.match(breakerDocument().version, /^sha256:/);

    await operator.putConfig(QUERY, 'limits', undefined);
    await waitFor(() => !gates().includes('trellis.test.EchoService/Echo'), { what: 'the deleted limits document dropped' });
    t.same(gates(), ['trellis.test.EchoService/Mutate'], "deleted: back to the code's rule");
    t.ok(!(await call() instanceof RpcError) && !(await call() instanceof RpcError), 'Echo is no longer limited');
  });
}
