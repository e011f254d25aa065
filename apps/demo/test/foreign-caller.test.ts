import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcServer } from '@trellis/core';
import { docSnippets } from '@trellis/testkit';
import { GrpcServerTransport } from '@trellis/transport-grpc';
import t from 'tap';
import { grpcJsCaller, PYTHON_SNIPPET, pythonCaller, pythonMissing } from '../src/foreign-caller.js';
import { loadGreeterPackage } from '../src/greeter.js';

// The demo's outside callers against a Greeter served over gRPC: Python's grpcio running
// python/call_greeter.py (the snippet the root README quotes, as written) and the grpc-js fallback.
t.test('callers outside Trellis reach a Greeter over gRPC', async (t) => {
  const server = new RpcServer({ host: '127.0.0.1', listeners: [{ protocol: 'grpc', transport: new GrpcServerTransport() }] });
  const seen: string[] = [];
  server.addService(loadGreeterPackage().service('demo.Greeter'), {
    sayHello: async (request: { name: string }, call: { metadata: ReadonlyMap<string, string> }) => {
      seen.push(call.metadata.get('x-caller') ?? '');
      return { message: `Hello, ${request.name}!`, servedBy: 'test' };
    },
    count: async () => ({ letters: 0, words: 0, servedBy: 'test' }),
    remember: async () => ({ message: '', servedBy: 'test' }),
    visitors: async function* () { /* not called */ },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 0 }));
  const target = `127.0.0.1:${server.listeners[0]!.port}`;

  const python = pythonMissing() === undefined || process.env.TRELLIS_REQUIRE_REGISTRIES ? pythonCaller() : undefined;
  if (python) {
    t.teardown(() => python.close());
    const call = await python.call(target, 'Ada');
    t.ok(call.ok, call.answer);
    t.match(call.answer, /^Hello, Ada! \(served by test; status OK; grpcio [\d.]+\)$/, 'the README snippet prints the reply');
    t.match(call.client, /^Python grpcio [\d.]+ /);
    t.same(seen, ['python-grpcio'], 'its metadata arrived');
  } else {
    t.comment(`Python caller not run: ${pythonMissing()}`);
  }

  const grpcJs = grpcJsCaller('forced by the test');
  t.teardown(() => grpcJs.close());
  const call = await grpcJs.call(target, 'Bo');
  t.ok(call.ok, call.answer);
  t.equal(call.answer, 'Hello, Bo! (served by test; status OK)');
  t.match(call.client, /^@grpc\/grpc-js [\d.]+ \(instead of Python: forced by the test\)$/);

  const refused = await grpcJs.call('127.0.0.1:1', 'Cy');
  t.notOk(refused.ok, 'a failed call says so');
  t.match(refused.answer, /^failed: /);
});

t.test('the root README quotes python/call_greeter.py as it is', async (t) => {
  const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const quoted = docSnippets(readme).filter((s) => s.file === 'apps/demo/python/call_greeter.py');
  t.equal(quoted.length, 1, 'one python block names the file');
  t.equal(quoted[0]?.section, 'Calling Trellis from other languages');
  t.equal(quoted[0]?.code.trim(), readFileSync(PYTHON_SNIPPET, 'utf8').trim(), 'the quoted snippet is the file the demo and the test run');
});
