import { request as httpRequest } from 'node:http';
import t from 'tap';
import { RpcClient } from '@trellis/core';
import { loadEchoService, type EchoCaller } from '@trellis/testkit';
import { admin } from '../src/index.js';
import { READ_TOKEN, startScenario, WRITE_TOKEN, XSS, type Scenario } from './fixtures/scenario.js';

async function call(base: string, path: string, init: { method?: string; token?: string; body?: unknown; rawBody?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined || init.rawBody !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, base), {
    method: init.method ?? 'GET', headers, body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await response.text();
  // The answers are checked field by field below: typing every shape here would only restate them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Record<string, any> };
}

let scenario: Scenario;
let base: string;
t.before(async () => {
  scenario = await startScenario();
  base = scenario.console.url!;
});
t.teardown(() => scenario?.close());

t.test('the console binds to 127.0.0.1 by default and serves the built page', async (t) => {
  t.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await fetch(base);
  t.equal(page.status, 200);
  t.match(await page.text(), /<script src="\/assets\/app\.js"><\/script>/);
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  const script = await fetch(new URL('/assets/app.js', base));
  t.equal(script.status, 200);
  t.match(script.headers.get('content-type'), /javascript/);
});

t.test('every API answer needs the token: 401 with a JSON error otherwise', async (t) => {
  const none = await call(base, '/api/state');
  t.equal(none.status, 401);
  t.equal(none.json.error.code, 'ERR_ADMIN_UNAUTHENTICATED');
  t.match(none.headers.get('www-authenticate'), /^Bearer/);
  const wrong = await call(base, '/api/state', { token: 'not-the-token-at-all-xx' });
  t.equal(wrong.status, 401);
  const basic = await fetch(new URL('/api/state', base), { headers: { authorization: 'Basic eDp5' } });
  t.equal(basic.status, 401);
  t.equal(((await basic.json()) as { error: { code: string } }).error.code, 'ERR_ADMIN_UNAUTHENTICATED');
});

t.test('the state: process, versions, consumers with every endpoint, the provider with its limiter', async (t) => {
  // One call to the console's own provider, so its limiter has a gate to show.
  const caller = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${scenario.server.port}`] });
  await caller.invoke('Echo', { message: 'hi' });
  await caller.close();
  // The consumer's breaker makes an endpoint's circuit at the first attempt there, and on a loaded
  // machine the health router can hold a provider back until its first PING is answered: the
  // background traffic may not have reached both providers yet. Call until both have answered one.
  const lanes = new Set<string>();
  const stub = scenario.client.stub<EchoCaller>();
  for (let i = 0; i < 2000 && lanes.size < 2; i++) lanes.add((await stub.echo({ message: 'both' })).servedBy);
  t.equal(lanes.size, 2, 'both providers answered a call');
  const { status, json, text } = await call(base, '/api/state', { token: READ_TOKEN });
  t.equal(status, 200);
  t.equal(json.versions.kernel, '0.1.0');
  t.type(json.process.pid, 'number');
  t.type(json.process.eventLoop.utilization, 'number');
  t.type(json.process.memory.rss, 'number');
  t.equal(json.role, 'read');
  t.equal(json.canWrite, false, 'the read token may not write');
  t.equal(json.consoleWritable, true, 'the console takes writes (it has a write token)');
  const client = json.targets.find((x: { id: string }) => x.id === 'c1');
  t.equal(client.service.name, 'trellis.test.EchoService');
  t.equal(client.balancer, 'lalb');
  t.same(client.plugins.map((p: { name: string }) => p.name), [
    '@trellis/health', '@trellis/lb-lalb', '@trellis/metrics', '@trellis/breaker', '@trellis/retry', '@trellis/router-param', '@trellis/tracing', '@trellis/admin',
  ]);
  t.equal(client.endpoints.length, 2);
  for (const endpoint of client.endpoints) {
    t.equal(endpoint.health, 'healthy');
    t.match(endpoint.connection, /^(ready|idle|connecting)$/);
    t.type(endpoint.lalbWeight, 'number', 'LALB weight from the balancer snapshot');
    t.equal(endpoint.breaker.state, 'closed', 'endpoint circuit from the breaker inspector');
  }
  t.type(client.retryBudget.allowed, 'number');
  t.same(client.rules.map((r: { section?: string; document: string }) => r.section ?? r.document), ['breaker', 'param'], "router-param's section and the breaker's own document");
  t.equal(client.endpoints.find((e: { tags: { lane: string } }) => e.tags.lane === 'b').tags.note, XSS, 'metadata is data in the API; the page escapes it');
  const server = json.targets.find((x: { side: string }) => x.side === 'server');
  t.equal(server.services[0].name, 'trellis.test.EchoService');
  t.match(server.limiter[0], { maxConcurrency: 64, accepted: 1, rejected: 0 });
  t.match(server.rules, [{ document: 'limits', service: 'default/trellis.test.EchoService', side: 'server' }], "the limiter's document of the service it limits");
  t.notMatch(text, READ_TOKEN, 'no answer carries a token');
  t.notMatch(text, WRITE_TOKEN);
  t.notMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/);
});

t.test('recent traces: the last sampled calls with their attempts, from the tracing plugin', async (t) => {
  let traces: { traceId: string; method: string; code: string; attempts: { endpoint: string }[] }[] = [];
  for (let i = 0; i < 100 && traces.length === 0; i++) {
    traces = (await call(base, '/api/clients', { token: READ_TOKEN })).json[0].traces;
    if (traces.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.ok(traces.length > 0);
  t.match(traces[0], { traceId: /^[0-9a-f]{32}$/, method: 'Echo', code: 'OK' });
  t.ok(scenario.providers.some((p) => p.id === traces[0]!.attempts[0]!.endpoint), 'each attempt names its endpoint');
});

t.test('per-method series from the metrics plugin: calls per second and percentiles, once a second', async (t) => {
  let methods: Record<string, { qps: number; p50: number | null; p99: number | null }[]> = {};
  for (let i = 0; i < 100; i++) {
    methods = (await call(base, '/api/series?client=c1', { token: READ_TOKEN })).json.methods;
    if ((methods['Echo']?.length ?? 0) >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const points = methods['Echo']!;
  t.ok(points.length >= 2);
  const last = points[points.length - 1]!;
  t.ok(last.qps > 0, 'calls per second counted');
  t.type(last.p50, 'number');
  t.ok(last.p99! >= last.p50!);
  const unknown = await call(base, '/api/series?client=zz', { token: READ_TOKEN });
  t.equal(unknown.status, 404);
  t.equal(unknown.json.error.code, 'ERR_ADMIN_NOT_FOUND');
});

t.test('rules: validate with the rules package, writes need the write token, conflicts are refused', async (t) => {
  const read = await call(base, '/api/rules?target=c1&document=routes', { token: READ_TOKEN });
  t.equal(read.status, 200);
  t.equal(read.json.text, null);
  const bad = await call(base, '/api/rules/validate', { method: 'POST', token: READ_TOKEN, body: { target: 'c1', document: 'routes', text: 'param:\n  - name: x\n    trget: { lane: b }\n' } });
  t.equal(bad.json.ok, false);
  t.match(bad.json.issues[0], { section: 'param', rule: 'x' });
  const unknownSection = await call(base, '/api/rules/validate', { method: 'POST', token: READ_TOKEN, body: { target: 'c1', document: 'routes', text: 'parm: []' } });
  t.equal(unknownSection.json.ok, false);
  const document = 'version: 7\nparam:\n  - name: all-to-b\n    target: { lane: b }\n';
  const good = await call(base, '/api/rules/validate', { method: 'POST', token: READ_TOKEN, body: { target: 'c1', document: 'routes', text: document } });
  t.same(good.json, { ok: true, version: '7' });

  const readOnly = await call(base, '/api/rules', { method: 'PUT', token: READ_TOKEN, body: { target: 'c1', document: 'routes', text: document } });
  t.equal(readOnly.status, 403);
  t.equal(readOnly.json.error.code, 'ERR_ADMIN_FORBIDDEN');
  const refused = await call(base, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { target: 'c1', document: 'routes', text: 'param: 3' } });
  t.equal(refused.status, 422);
  t.equal(refused.json.error.code, 'ERR_ADMIN_INVALID_RULES');
  t.equal((await call(base, '/api/rules?target=c1', { token: READ_TOKEN })).json.text, null, 'nothing was written');
  const conflict = await call(base, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { target: 'c1', document: 'routes', text: document, expected: 'something else' } });
  t.equal(conflict.status, 409);
  t.equal(conflict.json.error.code, 'ERR_ADMIN_CONFLICT');

  const unfollowed = await call(base, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { target: 'c1', document: 'other', text: 'param: []' } });
  t.equal(unfollowed.status, 409, 'a document no plugin here follows is not written unvalidated');
  t.equal(unfollowed.json.error.code, 'ERR_ADMIN_NOT_VALIDATABLE');
  const saved = await call(base, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { target: 'c1', document: 'routes', text: document, expected: null } });
  t.equal(saved.status, 200);
  t.same(saved.json, { version: '7' });
  let param: { version: string; origin: string } | undefined;
  for (let i = 0; i < 50; i++) {
    param = (await call(base, '/api/state', { token: READ_TOKEN })).json.targets[0].rules.find((r: { section?: string }) => r.section === 'param');
    if (param?.version === '7') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.match(param, { version: '7', origin: 'live' }, 'the consumer applied the document written through the registry');
  t.equal((await call(base, '/api/rules?target=c1', { token: READ_TOKEN })).json.text, document);
  await scenario.registry.putConfig({ group: 'default', name: 'trellis.test.EchoService' }, 'routes', undefined);
});

t.test("the breaker's document: listed, validated with the breaker's own schema and settings", async (t) => {
  const state = (await call(base, '/api/state', { token: READ_TOKEN })).json;
  t.match(state.targets[0].rules.find((r: { document: string }) => r.document === 'breaker'), { service: 'default/trellis.test.EchoService', side: 'client', live: true, origin: 'options' });
  const check = (text: string) => call(base, '/api/rules/validate', { method: 'POST', token: READ_TOKEN, body: { target: 'c1', document: 'breaker', text } });
  const bad = await check('{ "errorRatio": 7, "minCallz": 3 }');
  t.equal(bad.json.ok, false);
  t.match(bad.json.issues, [
    { field: 'errorRatio', expected: 'a number in (0, 1], e.g. 0.5 for 50 %', received: 7 },
    { field: 'minCallz', message: /did you mean "minCalls"/ },
  ], 'every issue, in the words of BREAKER_SETTINGS_SCHEMA');
  t.match((await check('coolDownMs: 60000\n')).json.issues, [{ field: 'maxCoolDownMs', message: 'expected a number ≥ coolDownMs (60000), got 30000' }], 'and the combination over the client’s settings');
  t.match((await check('{ "errorRatio": 0.6 }')).json, { ok: true, version: /^sha256:/ });
  const refused = await call(base, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { target: 'c1', document: 'breaker', text: '{ "errorRatio": 7 }', expected: null } });
  t.equal(refused.status, 422);
  t.match(refused.json.error, { code: 'ERR_ADMIN_INVALID_RULES', details: { issues: [{ field: 'errorRatio' }] } });
});

t.test("a limits document saved through the console changes a real server's limit", async (t) => {
  const { MemoryRegistry, RpcServer, Code } = await import('@trellis/core');
  const { limiter } = await import('@trellis/breaker');
  const { createEchoHandlers } = await import('@trellis/testkit');
  const registry = new MemoryRegistry();
  const console = admin({ token: READ_TOKEN, writeToken: WRITE_TOKEN });
  const server = new RpcServer({ host: '127.0.0.1', advertiseHost: '127.0.0.1', registry, plugins: [limiter({ services: { '*': { maxConcurrency: 64 } } }), console] })
    .addService(loadEchoService(), createEchoHandlers({ servedBy: 'limited' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), registry });
  t.teardown(async () => {
    await client.close();
    await server.close({ graceMs: 0 });
  });
  const url = console.url!;
  const echo = () => client.invoke('Echo', { message: 'x' }).then(() => 'ok', (e: Error) => e);
  t.equal(await echo(), 'ok');

  const servers = (await call(url, '/api/servers', { token: READ_TOKEN })).json as unknown as { id: string; rules: unknown[] }[];
  t.match(servers[0]!.rules, [{ document: 'limits', service: 'default/trellis.test.EchoService', origin: 'options' }]);
  const read = await call(url, '/api/rules?target=s1&document=limits', { token: READ_TOKEN });
  t.same(read.json, { document: 'limits', text: null, live: true }, 'the provided service is implied when there is one');

  const where = { target: 's1', service: 'default/trellis.test.EchoService', document: 'limits' };
  const invalid = await call(url, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { ...where, text: '{ "methods": { "Echo": { "qps": -5 } } }', expected: null } });
  t.equal(invalid.status, 422);
  t.match(invalid.json.error.details.issues, [{ field: 'methods.Echo.qps', expected: 'a finite number > 0', received: -5 }], "refused with the limiter schema's message");
  const readOnly = await call(url, '/api/rules', { method: 'PUT', token: READ_TOKEN, body: { ...where, text: '{ "qps": 1 }' } });
  t.equal(readOnly.status, 403, 'no write without the write token');
  t.equal((await call(url, '/api/rules?target=s1&document=limits', { token: READ_TOKEN })).json.text, null, 'nothing was written');

  const document = '{ "methods": { "Echo": { "qps": 1, "burst": 1 } } }';
  const saved = await call(url, '/api/rules', { method: 'PUT', token: WRITE_TOKEN, body: { ...where, text: document, expected: null } });
  t.equal(saved.status, 200);
  t.match(saved.json, { version: /^sha256:/ });
  // The registry hands the document to the limiter's watch as it is written: the next calls meet the new limit.
  t.equal(await echo(), 'ok');
  t.match(await echo(), { code: Code.RESOURCE_EXHAUSTED, message: /rate limit of 1 calls\/s \(burst 1\) reached for trellis\.test\.EchoService\/Echo/ }, 'the saved limit is in force on the server');
  const after = (await call(url, '/api/servers', { token: READ_TOKEN })).json as unknown as { rules: unknown[]; limiter: unknown[] }[];
  t.match(after[0]!.rules, [{ document: 'limits', origin: 'live' }]);
  t.match(after[0]!.limiter, [{ scope: 'trellis.test.EchoService' }, { scope: 'trellis.test.EchoService/Echo', rejected: 1 }]);
});

t.test('whoami says what the presented token may do, and whether the console takes writes at all', async (t) => {
  const read = await call(base, '/api/whoami', { token: READ_TOKEN });
  t.equal(read.status, 200);
  t.same(read.json, { role: 'read', canWrite: false, consoleWritable: true }, 'the read token may not write');
  const write = await call(base, '/api/whoami', { token: WRITE_TOKEN });
  t.same(write.json, { role: 'write', canWrite: true, consoleWritable: true }, 'the write token may');
  t.match((await call(base, '/api/state', { token: WRITE_TOKEN })).json, { role: 'write', canWrite: true, consoleWritable: true }, 'the state the page reads says the same');

  const readOnly = admin({ token: READ_TOKEN });
  const client = new RpcClient({ service: loadEchoService(), addresses: [scenario.providers[0]!.id], plugins: [readOnly] });
  await client.start();
  t.teardown(() => client.close());
  t.same((await call(readOnly.url!, '/api/whoami', { token: READ_TOKEN })).json, { role: 'read', canWrite: false, consoleWritable: false }, 'a console without a write token');
});

t.test('bad input gets coded JSON errors and the console keeps serving', async (t) => {
  const cases: [string, { method?: string; body?: unknown; rawBody?: string; token?: string }, number, string][] = [
    ['/api/nothing', {}, 404, 'ERR_ADMIN_NOT_FOUND'],
    ['/api/state', { method: 'DELETE' }, 405, 'ERR_ADMIN_METHOD_NOT_ALLOWED'],
    ['/api/rules/validate', { method: 'POST', rawBody: '{not json' }, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules/validate', { method: 'POST', body: [1, 2] }, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules/validate', { method: 'POST', body: { target: 'c1', text: 42 } }, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules/validate', { method: 'POST', body: { target: 's1', service: 'default/not.Provided', text: '' } }, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules/validate', { method: 'POST', body: { target: 'c1', service: 'default/other.Service', text: '' } }, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules?target=zz', {}, 404, 'ERR_ADMIN_NOT_FOUND'],
    ['/api/rules?target=c1&document=../../etc', {}, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules', { method: 'PUT', body: { target: 'c1', document: 'routes', text: 'param: []', expected: 5 }, token: WRITE_TOKEN }, 400, 'ERR_ADMIN_BAD_REQUEST'],
    ['/api/rules/validate', { method: 'POST', rawBody: JSON.stringify({ target: 'c1', text: 'x'.repeat(3 * 1024 * 1024) }) }, 413, 'ERR_ADMIN_TOO_LARGE'],
    ['/nowhere', {}, 404, 'ERR_ADMIN_NOT_FOUND'],
  ];
  for (const [path, init, status, code] of cases) {
    const answer = await call(base, path, { token: READ_TOKEN, ...init }).catch((error: Error) => ({ status: 0, json: { error: { code: error.message } } }));
    t.equal(answer.status, status, `${init.method ?? 'GET'} ${path}`);
    t.equal(answer.json.error.code, code, `${init.method ?? 'GET'} ${path}`);
  }
  t.equal((await call(base, '/api/overview', { token: READ_TOKEN })).status, 200, 'still serving');
});

t.test('a request that leaves out its client or target is told which parameter is missing', async (t) => {
  const cases: [string, { method?: string; body?: unknown }, RegExp][] = [
    ['/api/series', {}, /the client parameter \(\?client=c1\) is missing/],
    ['/api/rules?document=routes', {}, /^target is missing/],
    ['/api/rules/validate', { method: 'POST', body: { document: 'routes', text: '' } }, /^target is missing/],
  ];
  for (const [path, init, message] of cases) {
    const answer = await call(base, path, { token: READ_TOKEN, ...init });
    t.equal(answer.status, 400, `${init.method ?? 'GET'} ${path}`);
    t.equal(answer.json.error.code, 'ERR_ADMIN_BAD_REQUEST', `${init.method ?? 'GET'} ${path}`);
    t.match(answer.json.error.message, message, `${init.method ?? 'GET'} ${path} names the parameter`);
    t.notMatch(answer.json.error.message, /undefined|null/, 'and never says "undefined" or "null"');
  }
});

t.test('options are checked when the plugin is made', async (t) => {
  t.throws(() => admin({ token: 'short' }), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => admin({ port: -1 }), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => admin({ token: READ_TOKEN, writeToken: READ_TOKEN }), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => admin({ prot: 1 } as never), { code: 'ERR_INVALID_OPTION' });
  try {
    admin({ token: 'short' });
  } catch (error) {
    t.notMatch((error as Error).message, 'short', 'a rejected token is not echoed');
  }
});

t.test('without a token, reads are open to requests addressed to an IP only (no DNS rebinding)', async (t) => {
  const open = admin();
  const client = new RpcClient({ service: loadEchoService(), addresses: [scenario.providers[0]!.id], plugins: [open] });
  await client.start();
  t.teardown(() => client.close());
  const get = (host: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: open.port, path: '/api/state', headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    });
    request.on('error', reject);
    request.end();
  });
  t.equal((await get(`127.0.0.1:${open.port}`)).status, 200);
  t.equal((await get(`localhost:${open.port}`)).status, 200);
  const rebound = await get(`attacker.example:${open.port}`);
  t.equal(rebound.status, 403);
  t.match(JSON.parse(rebound.body), { error: { code: 'ERR_ADMIN_FORBIDDEN' } });
  const write = await call(open.url!, '/api/rules', { method: 'PUT', body: { target: 'c1', document: 'routes', text: 'param: []' } });
  t.equal(write.status, 403, 'and no writes without a write token');
});

t.test('a server publishes its console URL in its instance documents (tag trellis.admin), or the advertised one, or none', async (t) => {
  const { MemoryRegistry, RpcServer } = await import('@trellis/core');
  const { createEchoHandlers } = await import('@trellis/testkit');
  const tagOf = async (options: Parameters<typeof admin>[0]) => {
    const registry = new MemoryRegistry();
    const plugin = admin(options);
    const server = new RpcServer({ host: '127.0.0.1', registry, plugins: [plugin] }).addService(loadEchoService(), createEchoHandlers({ servedBy: 'p' }));
    await server.start();
    try {
      const listed = await new Promise<readonly { tags: Readonly<Record<string, string>> }[]>((resolve) => {
        registry.subscribe({ group: 'default', name: 'trellis.test.EchoService' }, (list) => { if (list.length > 0) resolve(list); });
      });
      return { tag: listed[0]!.tags['trellis.admin'], url: plugin.url };
    } finally {
      await server.close({ graceMs: 100 });
    }
  };
  const own = await tagOf({ token: READ_TOKEN });
  t.equal(own.tag, own.url, 'the URL it listens on');
  t.equal((await tagOf({ token: READ_TOKEN, advertiseUrl: 'https://console.example.test/p1/' })).tag, 'https://console.example.test/p1/');
  t.equal((await tagOf({ token: READ_TOKEN, advertiseUrl: false })).tag, undefined, 'advertiseUrl: false publishes nothing');
  t.throws(() => admin({ advertiseUrl: 'javascript:alert(1)' }), { code: 'ERR_INVALID_OPTION' });
});
