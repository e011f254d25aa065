import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Code, definePlugin, MemoryRegistry, RpcClient, StaticRegistry, type CallGate, type ClientPluginContext, type TrellisError } from '@trellis/core';
import { RULES_GATE_ORDER, RuleSet, watchRules, type RuleWatchContext, type RulesUpdate } from '../src/index.js';
import { limitSpec } from './fixtures/limits.js';
import { PING, QUERY, sectionPlugin, startPingServer } from './fixtures/service.js';

type Seen = { rules?: RuleSet<readonly string[]>; versions: string[] };

async function setup(t: { teardown(fn: () => unknown): void }, registry = new MemoryRegistry()) {
  const server = await startPingServer(registry);
  t.teardown(() => server.close());
  return registry;
}

function events() {
  const updates: RulesUpdate[] = [];
  const errors: TrellisError[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  return {
    updates,
    errors,
    onUpdate: (u: RulesUpdate) => (updates.push(u), wake()),
    onError: (e: TrellisError) => (errors.push(e), wake()),
    /** Resolves on the next update or error (events are what the test awaits, not time). */
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

t.test('a live document replaces the start-up rules, a bad one is rejected, deleting it restores them', async (t) => {
  const registry = await setup(t);
  const ev = events();
  const seen: Seen = { versions: [] };
  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/limits', limitSpec('param'), { rules: [{ name: 'boot', max: 1 }], onUpdate: ev.onUpdate, onError: ev.onError }, seen)],
  });
  t.teardown(() => client.close());
  await client.invoke('Ping', {});
  t.same(seen.rules!.compiled, ['boot≤1'], 'no document yet: the start-up rules are in force');

  await registry.putConfig(QUERY, 'routes', 'version: 2\nparam:\n  - name: live\n    max: 5\n');
  t.same(seen.rules!.compiled, ['live≤5']);
  t.same(ev.updates, [{ service: 'default/test.Ping', version: '2', previousVersion: 'options', origin: 'live', source: '"routes" document of default/test.Ping from the memory registry' }]);
  await client.invoke('Ping', {});
  t.equal(seen.versions.at(-1), '2', 'calls route with the live rules');

  await registry.putConfig(QUERY, 'routes', 'version: 3\nparam:\n  - name: gray-users\n    max: many\n');
  t.equal(ev.errors.length, 1);
  t.equal(ev.errors[0]!.code, 'ERR_INVALID_RULES');
  t.equal(ev.errors[0]!.message, 'the "routes" document of default/test.Ping from the memory registry was rejected; the previous rules stay in force: rule "gray-users" field "max": expected an integer, got "many"');
  t.same(seen.rules!.compiled, ['live≤5'], 'the previous rules stay');
  t.equal(seen.rules!.version, '2');

  await registry.putConfig(QUERY, 'routes', '{ "param": [ { "name": "x", "max": 1 } ');
  t.match(ev.errors[1]!.message, /document: is not valid JSON/);
  t.same(seen.rules!.compiled, ['live≤5']);

  await registry.putConfig(QUERY, 'routes', undefined);
  t.same(seen.rules!.compiled, ['boot≤1'], 'deleted: back to the start-up rules');
  t.equal(ev.updates.at(-1)!.origin, 'options');
  t.equal(ev.updates.length, 2);

  await registry.putConfig(QUERY, 'routes', 'version: 4\nparam: [{ name: again, max: 4 }]\n');
  t.same(seen.rules!.compiled, ['again≤4']);
  await registry.putConfig(QUERY, 'routes', '  \n');
  t.same(seen.rules!.compiled, ['boot≤1'], 'an empty document (a ZooKeeper node without data) counts as none');
  t.equal(ev.errors.length, 2, 'and is not an error');
});

t.test('plugins sharing a document apply an update together or not at all', async (t) => {
  const registry = await setup(t);
  const ev = events();
  const ip: Seen = { versions: [] };
  const param: Seen = { versions: [] };
  const common = { onError: ev.onError, onUpdate: ev.onUpdate };
  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/ip', limitSpec('ip'), common, ip), sectionPlugin('@test/param', limitSpec('param'), common, param)],
  });
  t.teardown(() => client.close());
  await client.invoke('Ping', {});

  await registry.putConfig(QUERY, 'routes', 'version: a\nip: [{ name: i, max: 1 }]\nparam: [{ name: p, max: 2 }]\n');
  t.same([ip.rules!.compiled, param.rules!.compiled], [['i≤1'], ['p≤2']]);

  await registry.putConfig(QUERY, 'routes', 'version: b\nip: [{ name: i2, max: 3 }]\nparam: [{ name: p2, max: 0 }]\n');
  t.same([ip.rules!.compiled, param.rules!.compiled], [['i≤1'], ['p≤2']], 'the valid ip section was not applied either');
  t.same([ip.rules!.version, param.rules!.version], ['a', 'a']);
  t.equal(ev.errors.length, 1, 'reported once to a reporter both plugins share');
  t.match(ev.errors[0]!.message, /rule "p2" field "max": must be ≥ 1, got 0/);

  await registry.putConfig(QUERY, 'routes', 'version: c\nparm: []\n');
  t.match(ev.errors[1]!.message, /document field "parm": unknown section; known: version, ip, param/);

  await registry.putConfig(QUERY, 'routes', 'version: d\nip: [{ name: i3, max: 4 }]\n');
  t.same([ip.rules!.compiled, param.rules!.compiled], [['i3≤4'], []], 'an absent section means no rules of that kind');
});

t.test('the first calls wait for the live document instead of routing on start-up rules', async (t) => {
  const registry = await setup(t);
  await registry.putConfig(QUERY, 'routes', 'version: live-1\nparam: [{ name: live, max: 1 }]\n');
  const gated: Seen = { versions: [] };
  const ungated: Seen = { versions: [] };
  const a = new RpcClient({ service: PING, registry, plugins: [sectionPlugin('@test/p', limitSpec('param'), { rules: [{ name: 'boot', max: 1 }] }, gated)] });
  const b = new RpcClient({ service: PING, registry, plugins: [sectionPlugin('@test/p', limitSpec('param'), { rules: [{ name: 'boot', max: 1 }], liveWaitMs: 0 }, ungated)] });
  t.teardown(async () => { await a.close(); await b.close(); });
  await Promise.all([a.invoke('Ping', {}), b.invoke('Ping', {})]);
  t.same(gated.versions, ['live-1'], 'the very first call routed with the live rules');
  t.same(ungated.versions, ['options'], 'without the wait (liveWaitMs: 0) it would have used the start-up rules');
});

/** A registry whose document watch never answers. */
class SilentDocuments extends MemoryRegistry {
  override watchConfig() {
    return { dispose: () => undefined };
  }
}

t.test('a source that never answers holds calls for liveWaitMs once, then start-up rules route', async (t) => {
  const registry = await setup(t, new SilentDocuments());
  const ev = events();
  const seen: Seen = { versions: [] };
  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/p', limitSpec('param'), { rules: [{ name: 'boot', max: 1 }], liveWaitMs: 300, onError: ev.onError }, seen)],
  });
  t.teardown(() => client.close());
  const started = performance.now();
  await client.invoke('Ping', {});
  t.ok(performance.now() - started >= 290, 'the first call waited for the live source');
  await client.invoke('Ping', {});
  t.same(seen.versions, ['options', 'options']);
  t.equal(ev.errors.length, 1, 'reported once');
  t.equal(ev.errors[0]!.code, 'ERR_RULES_NOT_LOADED');
  t.match(ev.errors[0]!.message, /no answer for the "routes" document of default\/test.Ping from the memory registry within 300 ms; routing with the start-up rules/);
});

t.test('a call with a short deadline does not give up the wait for everyone', async (t) => {
  const registry = await setup(t, new SilentDocuments());
  const ev = events();
  const seen: Seen = { versions: [] };
  const client = new RpcClient({ service: PING, registry, plugins: [sectionPlugin('@test/p', limitSpec('param'), { liveWaitMs: 60_000, onError: ev.onError }, seen)] });
  t.teardown(() => client.close());
  const error = await client.invoke('Ping', {}, { timeoutMs: 100 }).catch((e: Error & { code: number }) => e);
  t.match(error, { code: 4, mayHaveRun: false, message: 'deadline exceeded while waiting for the "routes" document of default/test.Ping from the memory registry' }, 'DEADLINE_EXCEEDED: the wait is bounded by the deadline');
  t.same(ev.errors, [], 'not reported: the source may still answer within liveWaitMs');
});

t.test('registries without documents, and live: false, route on start-up rules with no wait', async (t) => {
  const server = await startPingServer(new MemoryRegistry());
  t.teardown(() => server.close());
  const staticSeen: Seen = { versions: [] };
  const viaStatic = new RpcClient({
    service: PING, registry: new StaticRegistry([`127.0.0.1:${server.port}`]),
    plugins: [sectionPlugin('@test/p', limitSpec('param'), { rules: [{ name: 'boot', max: 1 }], liveWaitMs: 60_000 }, staticSeen)],
  });
  const memory = new MemoryRegistry();
  await memory.putConfig(QUERY, 'routes', 'param: [{ name: live, max: 1 }]');
  const offSeen: Seen = { versions: [] };
  const off = new RpcClient({
    service: PING, addresses: [`127.0.0.1:${server.port}`],
    plugins: [sectionPlugin('@test/p', limitSpec('param'), { rules: [{ name: 'boot', max: 1 }], live: false, liveWaitMs: 60_000 }, offSeen)],
  });
  t.teardown(async () => { await viaStatic.close(); await off.close(); });
  await viaStatic.invoke('Ping', {});
  await off.invoke('Ping', {});
  t.same(staticSeen.versions, ['options']);
  t.same(offSeen.versions, ['options']);
});

t.test('a plugin that joins after the document was applied gets it too', async (t) => {
  const registry = await setup(t);
  await registry.putConfig(QUERY, 'routes', 'version: 5\nip: [{ name: i, max: 1 }]\nparam: [{ name: p, max: 2 }]\n');
  const first: Seen = { versions: [] };
  const late: Seen = { versions: [] };
  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/ip', limitSpec('ip'), {}, first), sectionPlugin('@test/param', limitSpec('param'), {}, late, 50)],
  });
  t.teardown(() => client.close());
  await client.invoke('Ping', {});
  t.same(first.rules!.compiled, ['i≤1']);
  t.same(late.rules!.compiled, ['p≤2']);
  t.equal(late.rules!.version, '5');
});

t.test('closing the client stops following the document', async (t) => {
  const registry = await setup(t);
  const ev = events();
  const seen: Seen = { versions: [] };
  const client = new RpcClient({ service: PING, registry, plugins: [sectionPlugin('@test/p', limitSpec('param'), { onUpdate: ev.onUpdate }, seen)] });
  await client.invoke('Ping', {});
  await registry.putConfig(QUERY, 'routes', 'param: [{ name: a, max: 1 }]');
  t.equal(ev.updates.length, 1);
  await client.close();
  await registry.putConfig(QUERY, 'routes', 'param: [{ name: b, max: 1 }]');
  t.equal(ev.updates.length, 1, 'no update after close');
  t.same(seen.rules!.compiled, ['a≤1']);
});

t.test('the default reporter warns once per rejected document, however many plugins share it', async (t) => {
  const registry = await setup(t);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/ip', limitSpec('ip'), {}, { versions: [] }), sectionPlugin('@test/param', limitSpec('param'), {}, { versions: [] })],
  });
  t.teardown(() => client.close());
  await client.invoke('Ping', {});
  await registry.putConfig(QUERY, 'routes', 'param: [{ name: bad, max: 0 }]');
  await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
  t.equal(warnings.length, 1);
  t.match(warnings[0], { name: 'Warning', code: 'ERR_INVALID_RULES', message: /rule "bad" field "max": must be ≥ 1, got 0/ });
});

/** A registry that answers the document watch only when the test says so (`listener`). */
class LateDocuments extends MemoryRegistry {
  private watched!: (listener: (text: string | undefined) => void) => void;
  /** The document watch's listener, once the watch started. */
  readonly listener = new Promise<(text: string | undefined) => void>((resolve) => (this.watched = resolve));
  override watchConfig(_query: unknown, _name: string, listener: (text: string | undefined) => void) {
    this.watched(listener);
    return { dispose: () => undefined };
  }
}

t.test('a caller\'s abort ends its own call\'s wait; the others still wait for the live rules', async (t) => {
  const registry = new LateDocuments();
  await setup(t, registry);
  const ev = events();
  const seen: Seen = { versions: [] };
  let reached!: () => void;
  const bothHeld = new Promise<void>((resolve) => {
    let count = 0;
    reached = () => void (++count === 2 && resolve());
  });
  // A gate just before the rules gate: when it ran, the call is held by the rules gate in the same turn.
  const marker = definePlugin({
    meta: { name: '@test/marker', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addGate({ beforeCall: () => reached() }, RULES_GATE_ORDER - 1),
  });
  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/p', limitSpec('param'), { liveWaitMs: 60_000, onError: ev.onError }, seen), marker],
  });
  t.teardown(() => client.close());
  const controller = new AbortController();
  const aborted = client.invoke('Ping', {}, { signal: controller.signal });
  const waiting = client.invoke('Ping', {});
  await bothHeld;
  controller.abort();
  await t.rejects(aborted, { code: Code.CANCELLED, mayHaveRun: false }, 'the aborted call ends at once');
  t.same(seen.versions, [], 'no call was routed yet');
  (await registry.listener)('version: live-1\nparam: [{ name: live, max: 1 }]\n');
  await waiting;
  t.same(seen.versions, ['live-1'], 'the other call waited and routed with the live rules');
  t.same(ev.errors, [], 'nothing to report');
});

/**
 * A section plugin whose context counts the rules gate's `beforeCall`s (the same gate object, so the
 * kernel's switch still finds it) and records its `setHookActive` flips.
 */
function countingGatePlugin(options: { liveWaitMs: number; onError?: (e: TrellisError) => void }, seen: Seen) {
  const asked = { count: 0, flips: [] as boolean[] };
  const inner = sectionPlugin('@test/p', limitSpec('param'), options, seen);
  const plugin = definePlugin({
    meta: inner.meta,
    setupClient: (ctx) => {
      const spy = Object.create(ctx, {
        addGate: {
          value: (gate: CallGate, order: number) => {
            const beforeCall = gate.beforeCall;
            gate.beforeCall = (...args) => (asked.count++, beforeCall.apply(gate, args));
            ctx.addGate(gate, order);
          },
        },
        setHookActive: {
          value: (hook: CallGate, active: boolean) => {
            asked.flips.push(active);
            ctx.setHookActive(hook, active);
          },
        },
      }) as ClientPluginContext;
      return inner.setupClient!(spy);
    },
  });
  return { plugin, asked };
}

t.test('once the live document is in, the rules gate leaves the call path (a dormant gate)', async (t) => {
  const registry = new LateDocuments();
  await setup(t, registry);
  const seen: Seen = { versions: [] };
  const { plugin, asked } = countingGatePlugin({ liveWaitMs: 60_000 }, seen);
  const client = new RpcClient({ service: PING, registry, plugins: [plugin] });
  t.teardown(() => client.close());
  const held = client.invoke('Ping', {});
  const listener = await registry.listener;
  t.same(asked.flips, [], 'awake while the document has not arrived');
  listener('version: live-1\nparam: [{ name: live, max: 1 }]\n');
  t.same(asked.flips, [false], 'asleep as soon as it arrived');
  await held;
  t.equal(asked.count, 1, 'the held call asked the gate once and went on when the document arrived');
  await client.invoke('Ping', {});
  await client.invoke('Ping', {});
  t.equal(asked.count, 1, 'later calls did not ask it');
  listener(undefined); // the document deleted: start-up rules again, nothing for the gate to wait on
  await client.invoke('Ping', {});
  t.equal(asked.count, 1, 'still asleep after the document was deleted');
  t.same(seen.versions, ['live-1', 'live-1', 'live-1', 'none'], 'every call routed with the rules then in force (none at start-up)');
});

t.test('a source that never answers: the gate sleeps once it gave up waiting', async (t) => {
  const registry = await setup(t, new SilentDocuments());
  const ev = events();
  const seen: Seen = { versions: [] };
  const { plugin, asked } = countingGatePlugin({ liveWaitMs: 50, onError: ev.onError }, seen);
  const client = new RpcClient({ service: PING, registry, plugins: [plugin] });
  t.teardown(() => client.close());
  await client.invoke('Ping', {});
  t.same(asked.flips, [false], 'asleep once the wait was given up');
  await client.invoke('Ping', {});
  t.equal(asked.count, 1, 'only the first call asked it');
  t.equal(ev.errors[0]?.code, 'ERR_RULES_NOT_LOADED', 'the give-up reported as before');
});

t.test('a client closed before its documents arrived: its gate listener is dropped, not called', async (t) => {
  const registry = new LateDocuments();
  await setup(t, registry);
  const seen: Seen = { versions: [] };
  const { plugin, asked } = countingGatePlugin({ liveWaitMs: 60_000 }, seen);
  const client = new RpcClient({ service: PING, registry, plugins: [plugin] });
  await client.start();
  const listener = await registry.listener;
  await client.close();
  listener('version: live-1\nparam: [{ name: live, max: 1 }]\n');
  t.same(asked.flips, [], 'the closed client\'s gate was never switched (before: switched off during close)');
  t.same(seen.rules!.compiled, [], 'and the document did not reach the closed client');
});

/** `gc()` for this process: V8's flag set at run time, the function taken from a fresh context. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

t.test('holders that share one watch and close leave no onLoaded listener on it', async (t) => {
  const registry = new LateDocuments();
  const container = {};
  const called: number[] = [];
  /** One holder of the shared watch (a client's plugin, as clientRules is): its own close hooks. */
  function holder(id: number): { close(): void; listener: WeakRef<() => void> } {
    const closers: (() => void)[] = [];
    const ctx: RuleWatchContext = { registry, container, service: QUERY, clock: { now: () => performance.now() }, onClose: (fn) => void closers.push(fn) };
    const target = new RuleSet<readonly string[]>({ compiled: [], version: 'none', origin: 'options', source: 'test' });
    const watch = watchRules(ctx, 'routes', { spec: limitSpec('param'), target, onError: () => undefined })!;
    const listener = (): void => void called.push(id);
    watch.onLoaded(listener);
    return { close: () => closers.forEach((fn) => fn()), listener: new WeakRef(listener) };
  }
  const open = holder(0);
  const closed = Array.from({ length: 100 }, (_, i) => holder(i + 1));
  for (const h of closed) h.close();
  const listener = await registry.listener;
  const gc = collector();
  gc();
  t.equal(closed.filter((h) => h.listener.deref() !== undefined).length, 0, 'no closed holder\'s listener is still reachable (collected)');
  t.ok(open.listener.deref(), 'the open holder\'s listener is held');
  listener('version: 1\nparam: [{ name: a, max: 1 }]\n');
  t.same(called, [0], 'only the open holder was told the documents are in');
  open.close();
});
