import t from 'tap';
import { MemoryRegistry, RpcClient, RpcServer, type TrellisError } from '@trellis/core';
import type { RulesUpdate } from '@trellis/rules';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import { ipRouter } from '../src/index.js';

const QUERY = { group: 'default', name: 'trellis.test.EchoService' };

t.test('ip rules from the registry apply without restart; a bad update leaves the old ones', async (t) => {
  const registry = new MemoryRegistry();
  const service = loadEchoService();
  const servers = await Promise.all(['a', 'b'].map(async (name) => {
    const server = new RpcServer({ host: '127.0.0.1', registry });
    server.addService(service, createEchoHandlers({ servedBy: name }));
    return server.start();
  }));
  const [a, b] = servers.map((s) => `127.0.0.1:${s.port}`);
  const updates: RulesUpdate[] = [];
  const errors: TrellisError[] = [];
  const client = new RpcClient({
    service, registry, localAddress: '10.1.0.5',
    plugins: [ipRouter({ onUpdate: (u) => updates.push(u), onError: (e) => errors.push(e) })],
  });
  t.teardown(async () => { await client.close(); await Promise.all(servers.map((s) => s.close())); });
  const served = async (calls = 20) => {
    const names = new Set<string>();
    for (let i = 0; i < calls; i++) names.add(((await client.invoke('Echo', {})) as { servedBy: string }).servedBy);
    return [...names].sort();
  };

  t.same(await served(), ['a', 'b'], 'no document: no IP rule');
  await registry.putConfig(QUERY, 'routes', `version: 1\nip:\n  - { name: pin, from: [10.1.0.0/16], to: [${a}] }\n`);
  t.same(await served(), ['a']);
  await registry.putConfig(QUERY, 'routes', `version: 2\nip:\n  - { name: pin, from: [10.1.0.0/16], to: [${b}] }\n`);
  t.same(await served(), ['b'], 'the next call after the update follows it');
  await registry.putConfig(QUERY, 'routes', `version: 3\nip:\n  - { name: pin, from: [10.1.0.0/16], to: [${a}], onEmpty: never }\n`);
  t.same(await served(), ['b'], 'a bad update leaves version 2 in force');
  t.match(errors[0], { code: 'ERR_INVALID_RULES', message: /rule "pin" field "onEmpty": expected one of fail, next, all, got "never"/ });
  await registry.putConfig(QUERY, 'routes', `version: 4\nip:\n  - { name: other-consumers, from: [10.2.0.0/16], to: [${a}] }\n`);
  t.same(await served(), ['a', 'b'], 'a rule for other consumers does not apply here');
  await registry.putConfig(QUERY, 'routes', undefined);
  t.same(await served(), ['a', 'b']);
  t.same(updates.map((u) => u.version), ['1', '2', '4', 'none']);
});
