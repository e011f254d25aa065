import t from 'tap';
import { MemoryRegistry, RpcClient, RpcServer, TrellisError, definePlugin, type Plugin } from '@trellis/core';
import { Type, invalidOption } from '@trellis/core/toolkit';
import { checkRuleDocument, documentRules, readWholeDocument, RuleSet, type DocumentSpec } from '../src/index.js';
import { limitSpec } from './fixtures/limits.js';
import { PING, QUERY, sectionPlugin, startPingServer } from './fixtures/service.js';

/** A toy owned document: `{ max, min? }`, compiled over the plugin's own floor. */
interface Quota {
  readonly max: number;
  readonly min?: number;
}

const QUOTA: DocumentSpec<Quota> = {
  document: 'quota',
  side: 'client',
  schema: Type.Object({ max: Type.Integer({ minimum: 1 }), min: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
  // What the schema cannot say: one field against another.
  check: (quota) => {
    if (quota.min !== undefined && quota.min > quota.max) throw invalidOption('min', quota.min, `at most max (${quota.max})`);
  },
};

/** A plugin owning the quota document of its client's service; `floor` stands for its code's settings. */
function quotaPlugin(floor: number, seen: { rules?: RuleSet<number> }, errors: TrellisError[], spec: DocumentSpec<Quota> = QUOTA): Plugin {
  return definePlugin({
    meta: { name: '@test/quota', kernel: '^0.1.0' },
    setupClient(ctx) {
      const rules = new RuleSet<number>({ compiled: floor, version: 'options', origin: 'options', source: 'options' });
      seen.rules = rules;
      documentRules(ctx, spec, {
        service: ctx.service,
        target: rules,
        compile: (quota) => {
          // A combination only this plugin's settings reveal.
          if (quota.max < floor) throw invalidOption('max', quota.max, `at least the code's floor (${floor})`);
          return quota.max;
        },
        onError: (error) => errors.push(error),
      });
    },
  });
}

t.test('an owned document: live updates, every issue reported with the last good kept, deletion restores the code', async (t) => {
  const registry = new MemoryRegistry();
  const server = await startPingServer(registry);
  const seen: { rules?: RuleSet<number> } = {};
  const errors: TrellisError[] = [];
  const client = new RpcClient({ service: PING, registry, plugins: [quotaPlugin(2, seen, errors)] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Ping', {});
  t.equal(seen.rules!.compiled, 2, 'no document: the code’s settings');

  await registry.putConfig(QUERY, 'quota', '{ "max": 10 }');
  t.equal(seen.rules!.compiled, 10);
  t.match(seen.rules!.state, { origin: 'live', version: /^sha256:[0-9a-f]{12}$/, source: '"quota" document of default/test.Ping from the memory registry' });

  await registry.putConfig(QUERY, 'quota', 'max: 0\nminn: 1\n');
  t.equal(errors.length, 1);
  t.equal(errors[0]!.code, 'ERR_INVALID_RULES');
  t.equal(
    errors[0]!.message,
    'the "quota" document of default/test.Ping from the memory registry was rejected; the previous rules stay in force: ' +
      'document field "max": must be ≥ 1, got 0; document field "minn": unknown field (did you mean "min"?); known fields: max, min',
  );
  await registry.putConfig(QUERY, 'quota', 'max: 5\nmin: 6\n');
  t.match(errors[1]!.message, /document field "min": expected at most max \(5\), got 6$/, "the spec's check");
  await registry.putConfig(QUERY, 'quota', 'max: 1\n');
  t.match(errors[2]!.message, /document field "max": expected at least the code's floor \(2\), got 1$/, "the plugin's compile step");
  await registry.putConfig(QUERY, 'quota', '{ "max": ');
  t.match(errors[3]!.message, /document: is not valid JSON/);
  t.equal(seen.rules!.compiled, 10, 'the last good document stays in force');

  await registry.putConfig(QUERY, 'quota', 'max: 7 # YAML too\n');
  t.equal(seen.rules!.compiled, 7);
  await registry.putConfig(QUERY, 'quota', undefined);
  t.equal(seen.rules!.compiled, 2, 'deleted: back to the code’s settings');
  t.equal(errors.length, 4);

  const inspected = client.inspect().inspectors['@trellis/rules/default/test.Ping/quota'];
  t.match(inspected, { document: 'quota', service: 'default/test.Ping', side: 'client', live: true, origin: 'options' }, 'operators see the document in force');
});

t.test('checkRuleDocument validates an owned document as the owner would, applying nothing', async (t) => {
  const registry = new MemoryRegistry();
  const server = await startPingServer(registry);
  const seen: { rules?: RuleSet<number> } = {};
  let container: object | undefined;
  const spy = definePlugin({ meta: { name: '@test/spy', kernel: '^0.1.0' }, setupClient: (ctx) => void (container = ctx.container) });
  const client = new RpcClient({ service: PING, registry, plugins: [quotaPlugin(3, seen, []), spy] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Ping', {});
  const holder = { container: container!, service: QUERY };
  t.match(checkRuleDocument(holder, 'quota', '{ "max": 4 }'), { ok: true, version: /^sha256:/ });
  t.match(checkRuleDocument(holder, 'quota', '{ "max": 2 }'), { ok: false, issues: [{ field: 'max', message: "expected at least the code's floor (3), got 2" }] });
  t.match(checkRuleDocument(holder, 'quota', '{ "max": "x", "extra": 1 }'), { ok: false, issues: [{ field: 'max' }, { field: 'extra' }] }, 'every issue');
  t.equal(seen.rules!.compiled, 3, 'nothing applied');
});

t.test("a spec's own report, a server following each service's document, and one reading per document", async (t) => {
  const registry = new MemoryRegistry();
  const reported: string[] = [];
  const spec: DocumentSpec<Quota> = {
    ...QUOTA,
    side: 'server',
    rejected: (place, issues) => new TrellisError('ERR_INVALID_OPTION', `${place.path}: ${issues[0]!.field} is ${String(issues[0]!.received)}`),
  };
  const rules = new RuleSet<number>({ compiled: 1, version: 'options', origin: 'options', source: 'options' });
  let holder: { container: object; service: typeof QUERY } | undefined;
  const owner = definePlugin({
    meta: { name: '@test/server-quota', kernel: '^0.1.0' },
    setupServer(ctx) {
      holder = { container: ctx.container, service: QUERY };
      documentRules(ctx, spec, { service: QUERY, target: rules, compile: (quota) => quota.max, onError: (e) => reported.push(`${e.code} ${e.message}`) });
    },
  });
  const server = new RpcServer({ host: '127.0.0.1', registry, plugins: [owner] }).addService(PING, { ping: async () => ({ ok: true }) });
  await server.start();
  t.teardown(() => server.close());
  await new Promise((resolve) => setImmediate(resolve)); // the watch starts once every plugin's setup ran
  await registry.putConfig(QUERY, 'quota', '{ "max": 9 }');
  t.equal(rules.compiled, 9, 'the provider applied its service’s document');
  await registry.putConfig(QUERY, 'quota', '{ "max": -1 }');
  t.same(reported, ['ERR_INVALID_OPTION /trellis/config/default/test.Ping/quota: max is -1']);
  t.equal(rules.compiled, 9);
  t.match(checkRuleDocument(holder!, 'quota', '{ "max": 0 }'), { ok: false, issues: [{ field: 'max' }] }, "a provider's document checked for the admin console");

  const client = new RpcClient({
    service: PING, registry,
    plugins: [sectionPlugin('@test/ip', limitSpec('ip'), { document: 'quota', liveWaitMs: 0 }, { versions: [] }), quotaPlugin(1, {}, [])],
  });
  await t.rejects(client.start(), { code: 'ERR_INVALID_OPTION', message: /already read as sections; give this plugin a document of its own/ });
  await client.close();
});

t.test('readWholeDocument: the same reading for tools, with or without a compile step', async (t) => {
  t.match(readWholeDocument(QUOTA, '{ "max": 3 }'), { ok: true, value: { value: { max: 3 }, compiled: { max: 3 } } });
  t.match(readWholeDocument(QUOTA, '[]'), { ok: false, issues: [{ field: '', received: [] }] });
  t.match(readWholeDocument(QUOTA, 'max: 3', () => { throw new Error('boom'); }), { ok: false, issues: [{ field: '', message: 'could not be applied: boom' }] });
});
