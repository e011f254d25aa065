import t from 'tap';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';
import { RpcClient, type Registry } from '@trellis/core';
import { loadEchoService, startEtcd, startProvider, waitFor } from '@trellis/testkit';
import { health } from '../src/index.js';
import { startGate } from './fixtures/gate.js';
import { PACKAGE_DIR } from './fixtures/helpers.js';

// @trellis/discovery-etcd is loaded from its folder, the way the provider children load it.
const ETCD_PLUGIN_DIR = path.join(PACKAGE_DIR, '..', 'discovery-etcd');
const WARMUP_MS = 6000;

function status(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', reject).end();
  });
}

t.test('a provider started mid-traffic is registered only once ready, then its share ramps up', async (t) => {
  t.ok(existsSync(path.join(ETCD_PLUGIN_DIR, 'dist', 'index.js')), 'plugins/discovery-etcd is built');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { etcdRegistry } = require(ETCD_PLUGIN_DIR) as { etcdRegistry(options: unknown): Registry };
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const registryOptions = { endpoints: etcd.endpoints, ttlSeconds: 5, debounceMs: 20, snapshotDir: false };
  const registryRef = { module: ETCD_PLUGIN_DIR, export: 'etcdRegistry', options: registryOptions };
  const service = loadEchoService();
  const listed = async (): Promise<number> => {
    // A registry of its own: its first list is read from etcd, not from the consumer's cache.
    const fresh = etcdRegistry(registryOptions);
    const count = await new Promise<number>((resolve) => {
      const subscription = fresh.subscribe({ group: 'default', name: service.name }, (list) => {
        queueMicrotask(() => subscription.dispose());
        resolve(list.length);
      });
    });
    await fresh.close();
    return count;
  };

  const old = await startProvider({ name: 'old', registry: registryRef });
  t.teardown(() => old.stop());
  const registry = etcdRegistry(registryOptions);
  const plugin = health({ warmupMs: WARMUP_MS, availability: false });
  const client = new RpcClient({ service, registry, loadBalancer: 'random', plugins: [plugin] });
  t.teardown(async () => {
    await client.close();
    await registry.close();
  });
  await client.start();
  await waitFor(() => client.endpoints.length === 1, { what: 'the first provider discovered' });

  // Traffic all along: eight paced callers (a few thousand calls a second, not a CPU hog). On a loaded
  // machine each call waits for the providers' turn on a core, so more callers keep every window
  // judged below well above its 200 calls (four gave 467 in the first third at load 35).
  const samples: { at: number; servedBy: string }[] = [];
  const errors: Error[] = [];
  let running = true;
  const callers = Array.from({ length: 8 }, async () => {
    while (running) {
      try {
        const reply = (await client.invoke('Echo', { message: 'x' })) as { servedBy: string };
        samples.push({ at: Date.now(), servedBy: reply.servedBy });
      } catch (error) {
        errors.push(error as Error);
      }
      await sleep(1);
    }
  });
  t.teardown(() => {
    running = false;
    return Promise.all(callers);
  });

  const gate = await startGate();
  t.teardown(() => gate.close());
  const starting = startProvider({
    name: 'new',
    registry: registryRef,
    plugins: [{
      module: path.join(__dirname, 'fixtures', 'gated-health.js'),
      export: 'gatedHealth',
      // Port 0: a port picked here and bound seconds later by the child could be taken in between.
      // The child says which port it got when it reaches the gate.
      options: { gateUrl: gate.url, health: { http: { port: 0, host: '127.0.0.1' } } },
    }],
  });
  const healthPort = Number((await gate.reached).searchParams.get('healthPort'));
  t.ok(healthPort > 0, `the health endpoint listens on port ${healthPort}`);
  t.equal(await status(healthPort), 503, 'listening, readiness pending: NOT_SERVING');
  t.equal(await listed(), 1, 'not in the registry before its readiness hook passed');
  t.equal(client.endpoints.length, 1);
  gate.open();
  // When the consumer saw the new provider, polled from the moment its readiness gate opens: the
  // checks below (the child's start report, an HTTP request to it) come first, and on a loaded
  // machine each can take hundreds of ms; timed after them, the first third's window (which starts
  // at this moment) shrank by that much and could hold fewer calls than the 200 it needs.
  const discovered = waitFor(() => client.endpoints.length === 2, { what: 'the new provider discovered' }).then(() => Date.now());
  const fresh = await starting;
  t.teardown(() => fresh.stop());
  t.equal(await status(healthPort), 200, 'SERVING once ready');
  const seenAt = await discovered;
  const startedAt = client.endpoints.find((e) => e.port === fresh.port)!.startedAt!;
  t.ok(startedAt > 0, 'the registry carries its start time');

  // Let the ramp run its course under traffic, and a little longer.
  await waitFor(() => Date.now() > startedAt + WARMUP_MS + 1500, { timeoutMs: WARMUP_MS + 15_000, intervalMs: 100 });
  running = false;
  await Promise.all(callers);
  t.same(errors.map((e) => e.message), [], 'no call failed');

  const share = (from: number, to: number): { share: number; n: number } => {
    const window = samples.filter((s) => s.at >= Math.max(seenAt, startedAt + from) && s.at < startedAt + to);
    return { share: window.filter((s) => s.servedBy === 'new').length / window.length, n: window.length };
  };
  const early = share(0, WARMUP_MS / 3);
  const late = share((2 * WARMUP_MS) / 3, WARMUP_MS);
  const after = share(WARMUP_MS, WARMUP_MS + 1500);
  t.comment(`share of the new provider: first third ${early.share.toFixed(3)} (${early.n} calls), last third ${late.share.toFixed(3)} (${late.n}), after ${after.share.toFixed(3)} (${after.n})`);
  t.ok(early.n >= 200 && late.n >= 200 && after.n >= 200, 'enough calls in every window to judge');
  // The window starts when the consumer saw the provider (discovery lags its start under load), so
  // the share there is bounded loosely; the growth check below is what proves the ramp.
  t.ok(early.share < 0.4, 'a reduced share in the first third of the warm-up (a full one would be 0.5)');
  t.ok(late.share > early.share + 0.1, 'a growing share');
  t.ok(after.share > 0.4, 'its full share once warmed up');
  t.equal(samples.filter((s) => s.servedBy === 'new' && s.at < startedAt).length, 0, 'no call before it registered');
});
