import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceKey } from '@trellis/core';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { ECHO_PROTO_PATH, ECHO_SERVICE_NAME, startEtcd, type EtcdServer } from '@trellis/testkit';
import { GrpcServer, GrpcServiceRegistry } from '@trellis/transport-grpc';
import t from 'tap';
import { trellis } from './fixtures/cli.js';
import { GREETER_PROTO, makeCertificates, startGrpcJsGreeter, startNativeGreeters, startTrellisGrpcEcho, startV1alphaOnly, type RunningServer } from './fixtures/grpc-servers.js';

/**
 * `trellis call` and `describe` over gRPC and over the native protocol with no .proto, the CLI run
 * as a subprocess against real servers on loopback: demo.Greeter (all four method kinds) on
 * @grpc/grpc-js with @grpc/reflection, EchoService on a Trellis RpcServer through
 * GrpcServerTransport over TLS with the standard services, a server with only reflection v1alpha,
 * one with no reflection, demo.Greeter on plain native RpcServers (with `addReflection` and
 * without), and an etcd whose instance documents say `grpc` (the grpc-js Greeter), `grpcs` (the
 * Trellis EchoService) and `trellis` (the native Greeter, group "blue"). Cases run in parallel per
 * test to keep the subprocess cost down.
 */
let greeter: RunningServer;
let echo: RunningServer;
let alpha: RunningServer;
let bare: GrpcServer;
let bareAddress: string;
let natives: { reflected: RunningServer; bare: RunningServer };
let etcd: EtcdServer;
let registry: ReturnType<typeof etcdRegistry> | undefined;
const certificates = makeCertificates();
const CA = ['--cacert', certificates.caFile];

t.before(async () => {
  [greeter, echo, alpha, natives, etcd] = await Promise.all([startGrpcJsGreeter(), startTrellisGrpcEcho(certificates), startV1alphaOnly(), startNativeGreeters(), startEtcd()]);
  bare = new GrpcServer(new GrpcServiceRegistry());
  bareAddress = `127.0.0.1:${(await bare.listen({ host: '127.0.0.1', port: 0 })).port}`;
  // A provider whose instance document says it serves gRPC (what phase B of transport-grpc publishes).
  // Kept open: the registrations live as long as the registry's lease.
  registry = etcdRegistry({ endpoints: etcd.endpoints, snapshotDir: false });
  const instance = { host: '127.0.0.1', weight: 100, version: '1.0.0', tags: {}, startedAt: Date.now() };
  await registry.register(serviceKey(ECHO_SERVICE_NAME), { ...instance, port: echo.port, protocol: 'grpcs' });
  await registry.register(serviceKey('demo.Greeter'), { ...instance, port: greeter.port, protocol: 'grpc' });
  await registry.register(serviceKey('demo.Greeter', { group: 'blue' }), { ...instance, port: natives.reflected.port, protocol: 'trellis' });
  // A provider with several listeners (RpcServer `listeners`): native and gRPC ports in one document.
  await registry.register(serviceKey('demo.Greeter', { group: 'green' }), {
    ...instance, port: natives.reflected.port, protocol: 'trellis', protocols: { trellis: { port: natives.reflected.port }, grpc: { port: greeter.port } },
  });
});
t.teardown(async () => {
  await registry?.close();
  await Promise.all([greeter?.close(), echo?.close(), alpha?.close(), natives?.reflected.close(), natives?.bare.close(), bare?.close(0), etcd?.stop()]);
});

const g = () => `grpc://${greeter.address}`;

t.test('describe from reflection shows what the .proto declares (v1 from grpc-js, v1alpha fallback, a server without reflection)', async (t) => {
  const [services, reflected, fromProto, text, v1alpha, unknown, none, down] = await Promise.all([
    trellis(['describe', g()]),
    trellis(['describe', g(), 'demo.Greeter']),
    trellis(['describe', 'demo.Greeter', '--proto', GREETER_PROTO]),
    trellis(['describe', echo.address, 'trellis.test.EchoService', '-o', 'text', ...CA]),
    trellis(['describe', `grpc://${alpha.address}`, 'demo.Greeter.Chat']),
    trellis(['describe', g(), 'demo.Greter', '-o', 'text']),
    trellis(['describe', `grpc://${bareAddress}`]),
    trellis(['describe', 'grpc://127.0.0.1:1', '-o', 'text']),
  ]);
  t.equal(services.code, 0, services.stderr);
  t.match(services.json().origin, `reflection at ${greeter.address} (v1)`);
  const greeterShape = services.json().services.find((s: { name: string }) => s.name === 'demo.Greeter');
  t.same(greeterShape.methods.map((m: { name: string; kind: string }) => `${m.name}:${m.kind}`), [
    'SayHello:unary', 'Subscribe:server-streaming', 'Upload:client-streaming', 'Chat:bidi-streaming',
  ]);
  t.equal(reflected.code, 0, reflected.stderr);
  t.equal(fromProto.code, 0, fromProto.stderr);
  t.same(reflected.json().types, fromProto.json().types, 'message shapes from reflection = from the .proto (map, oneof, optional, enum, nested)');
  t.same(reflected.json().service, fromProto.json().service, 'methods, kinds and idempotency too');
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /service trellis\.test\.EchoService {2}\(reflection at 127\.0\.0\.1:\d+ \(v1\)\)/);
  t.match(text.stdout, 'rpc Echo (trellis.test.EchoRequest) returns (trellis.test.EchoReply);');
  t.equal(v1alpha.code, 0, v1alpha.stderr);
  t.match(v1alpha.json(), { origin: /\(v1alpha\)$/, method: { name: 'Chat', kind: 'bidi-streaming' } });
  t.match(v1alpha.stderr, `warning: reflection at ${alpha.address} lists ghost.Missing but cannot describe it`, 'a listed service without descriptors is skipped');
  t.equal(unknown.code, 4);
  t.match(unknown.stderr, `"demo.Greter" is not a service, method, message or enum in reflection at ${greeter.address}`);
  t.match(unknown.stderr, 'hint: did you mean "demo.Greeter"?');
  t.equal(none.code, 4);
  t.match(none.json().error, { code: 'ERR_NOT_FOUND', message: `the gRPC server at ${bareAddress} does not serve reflection`, hint: /--proto/ });
  t.equal(down.code, 1);
  t.match(down.stderr, 'error: reflection at 127.0.0.1:1 failed: UNAVAILABLE');
  t.match(down.stderr, 'dial: cannot connect to grpc://127.0.0.1:1: connect ECONNREFUSED');
  t.match(down.stderr, 'hint: is a gRPC server listening at 127.0.0.1:1?');
});

t.test('call a grpc-js server: unary and the three stream kinds, JSON lines in and out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cli-grpc-'));
  const chat = join(dir, 'chat.jsonl');
  writeFileSync(chat, '{"name":"ann"}\n\n{"name":"bo","mood":"GRUMPY"}\n{"name":"cy"}\n');
  const badChat = join(dir, 'bad.jsonl');
  writeFileSync(badChat, '{"name":"ann"}\n{"nme":"bo"}\n');
  const [unary, server, client, bidi, verbose, withProto, badLine, badStdin] = await Promise.all([
    trellis(['call', g(), 'SayHello', '-d', '{"name":"ann","mood":"HAPPY","counts":{"a":"12345678901234567"}}', '-H', 'x-tag:t1']),
    trellis(['call', g(), 'demo.Greeter/Subscribe', '-d', '{"name":"bo"}']),
    trellis(['call', g(), 'Upload'], { input: '{"name":"a"}\n{"name":"b"}\n{"name":"c"}\n' }),
    trellis(['call', g(), 'Chat', '-d', `@${chat}`]),
    trellis(['call', g(), 'Subscribe', '-d', '{"name":"v"}', '-v', '-o', 'text']),
    trellis(['call', greeter.address, 'demo.Greeter/Subscribe', '--protocol', 'grpc', '--proto', GREETER_PROTO, '-d', '{"name":"p"}']),
    trellis(['call', g(), 'Chat', '-d', `@${badChat}`]),
    trellis(['call', g(), 'Chat', '-d', '-'], { input: '{"name":"ann"}\n{"name": 7}\n' }),
  ]);
  t.equal(unary.code, 0, unary.stderr);
  t.same(unary.json(), { message: 'Hello ann (HAPPY) {a=12345678901234567} [x-tag=t1]' }, 'enum by name, a map of int64 as text, -H metadata');
  t.equal(server.code, 0, server.stderr);
  t.same(server.stdout.trim().split('\n').map((line) => JSON.parse(line)), [1, 2, 3].map((i) => ({ message: `Hello bo #${i}` })), 'one JSON per line');
  t.equal(client.code, 0, client.stderr);
  t.same(client.json(), { message: 'received 3: a, b, c' }, 'a client stream from stdin JSON lines; its one response printed as a unary one');
  t.equal(bidi.code, 0, bidi.stderr);
  t.same(bidi.stdout.trim().split('\n'), ['{"message":"re: ann"}', '{"message":"re: bo"}', '{"message":"re: cy"}'], 'blank lines skipped');
  t.equal(verbose.code, 0, verbose.stderr);
  t.equal(verbose.stdout.trim().split('\n').length, 3, 'stream responses are JSON lines in text mode too');
  t.match(verbose.stderr, new RegExp(`demo\\.Greeter/Subscribe \\(server-streaming\\) answered by ${greeter.address.replace(/\./g, '\\.')} in [\\d.]+ ms: 3 responses`));
  t.equal(withProto.code, 0, withProto.stderr);
  t.equal(withProto.stdout.trim().split('\n').length, 3, '--proto instead of reflection, host:port with --protocol grpc');
  t.equal(badLine.code, 2, 'a file is checked before the call starts');
  // json() parses the whole stdout: the error document alone, no response was printed.
  t.match(badLine.json().error, { code: 'ERR_USAGE', line: 2, message: /line 2\) does not fit demo\.HelloRequest/, issues: [{ path: 'nme', message: /did you mean "name"/ }] });
  t.equal(badStdin.code, 2, 'a bad stdin line cancels the stream');
  t.match(badStdin.stdout, /line 2\) does not fit demo\.HelloRequest/);
});

t.test('errors say what to do: close names, the failed status with the endpoint, a dead address', async (t) => {
  const [failed, method, service, down, healthDown] = await Promise.all([
    trellis(['call', g(), 'SayHello', '-d', '{"name":"fail"}', '-o', 'text']),
    trellis(['call', g(), 'SayHelo']),
    trellis(['call', g(), 'demo.Greter/SayHello']),
    trellis(['call', 'grpc://127.0.0.1:1', 'demo.Greeter/SayHello', '--proto', GREETER_PROTO]),
    trellis(['health', 'grpc://127.0.0.1:1', '-c', '1']),
  ]);
  t.equal(failed.code, 1);
  t.match(failed.stderr, `error: demo.Greeter/SayHello failed: FAILED_PRECONDITION (9): not today\n  may have run: yes\n  endpoint: ${greeter.address}`);
  t.equal(method.code, 4);
  t.match(method.json().error, { code: 'ERR_NOT_FOUND', message: 'demo.Greeter has no method "SayHelo"', suggestions: ['SayHello'] });
  t.equal(service.code, 4);
  t.match(service.json().error, { message: /service "demo.Greter" is not defined in reflection at/, suggestions: ['demo.Greeter'] });
  t.equal(down.code, 1);
  t.match(down.json().error, { status: { code: 'UNAVAILABLE', mayHaveRun: false }, endpoint: '127.0.0.1:1', dial: /ECONNREFUSED/, hint: /nothing took the call at 127\.0\.0\.1:1/ });
  t.equal(healthDown.code, 1);
  t.match(healthDown.json().checks, [{ check: 'h2-ping', target: '127.0.0.1:1', status: 'UNREACHABLE', detail: /ECONNREFUSED/ }]);
});

t.test('a Trellis RpcServer over gRPC with TLS, by address and through the registry when the instance document says grpc(s)', async (t) => {
  const reg = ['--registry', `etcd://127.0.0.1:${etcd.port}`];
  const [direct, insecure, untrusted, cleartext, viaRegistry, streamViaRegistry, ls, described, misspelt] = await Promise.all([
    trellis(['call', `grpcs://${echo.address}`, 'Echo', '-d', '{"message":"hi","id":"9007199254740993"}', ...CA]),
    trellis(['call', echo.address, 'trellis.test.EchoService/Mutate', '-d', '{"message":"m"}', '--insecure']),
    trellis(['call', `grpcs://${echo.address}`, 'Echo', '-o', 'text']),
    trellis(['call', `grpc://${echo.address}`, 'Echo', '--proto', ECHO_PROTO_PATH]),
    trellis(['call', ECHO_SERVICE_NAME, 'Echo', '-d', '{"message":"via etcd"}', ...reg, ...CA, '-v']),
    trellis(['call', 'demo.Greeter', 'Subscribe', '-d', '{"name":"reg"}', ...reg]),
    trellis(['ls', ECHO_SERVICE_NAME, ...reg]),
    trellis(['describe', 'demo.Greeter/Chat', ...reg]),
    trellis(['describe', 'demo.Greter', ...reg]),
  ]);
  t.equal(direct.code, 0, direct.stderr);
  t.match(direct.json(), { message: 'hi', id: '9007199254740993', servedBy: 'trellis-grpc' }, 'int64 past 2^53 survives both ways');
  t.equal(insecure.code, 0, insecure.stderr);
  t.match(insecure.json(), { message: 'm', servedBy: 'trellis-grpc' }, 'host:port with --insecure is TLS without verification');
  t.equal(untrusted.code, 1, 'a certificate nobody vouches for');
  t.match(untrusted.stderr, `error: reflection at ${echo.address} failed: UNAVAILABLE`);
  t.match(untrusted.stderr, /dial: cannot connect to grpcs:\/\/127\.0\.0\.1:\d+: unable to verify the first certificate/);
  t.match(untrusted.stderr, 'hint: the server\'s certificate is not trusted: pass its CA with --cacert');
  t.equal(cleartext.code, 1);
  t.match(cleartext.json().error, { code: 'ERR_RPC_FAILED', endpoint: echo.address, hint: /grpcs:\/\// }, 'cleartext to a TLS server: the hint says grpcs://');
  t.equal(viaRegistry.code, 0, viaRegistry.stderr);
  t.match(viaRegistry.json(), { endpoint: echo.address, response: { message: 'via etcd', servedBy: 'trellis-grpc' } });
  t.equal(streamViaRegistry.code, 0, streamViaRegistry.stderr);
  t.equal(streamViaRegistry.stdout.trim().split('\n').length, 3, 'a stream to a gRPC provider found in the registry, described by its reflection');
  t.equal(ls.code, 0, ls.stderr);
  t.equal(described.code, 0, described.stderr);
  t.match(described.json(), { origin: `reflection at ${greeter.address} (v1)`, method: { name: 'Chat', kind: 'bidi-streaming' } }, 'describe a service of the registry from its gRPC provider');
  t.equal(misspelt.code, 4);
  t.match(misspelt.json().error, { message: /no descriptors for "demo\.Greter": it is not a service/, suggestions: ['demo.Greeter'] });
  t.match(ls.json().providers, [{ protocol: 'grpcs', health: { check: 'h2-ping', ok: true, status: 'UP' } }], 'gRPC providers are PINGed over HTTP/2');
});

t.test('a provider listing native and gRPC ports: ls names both, --protocol grpc calls its gRPC port', async (t) => {
  const reg = ['--registry', `etcd://127.0.0.1:${etcd.port}`, '--group', 'green'];
  const [ls, viaGrpc] = await Promise.all([
    trellis(['ls', 'demo.Greeter', ...reg, '-o', 'text']),
    trellis(['call', 'demo.Greeter', 'SayHello', '-d', '{"name":"green"}', '--protocol', 'grpc', ...reg, '-v']),
  ]);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /trellis, grpc/, 'both protocols of the instance document');
  t.equal(viaGrpc.code, 0, viaGrpc.stderr);
  t.match(viaGrpc.json(), { endpoint: greeter.address }, 'the gRPC port of the document, not its native one');
});

t.test('a plain Trellis server over the native protocol, no --proto: describe and every method kind from its reflection', async (t) => {
  const n = natives.reflected.address;
  const blue = ['--group', 'blue'];
  const reg = ['--registry', `etcd://127.0.0.1:${etcd.port}`];
  // Nine runs (each CLI subprocess costs ~1–2 s of CPU on the loaded CI machine): what -v, a failed
  // status and the service listing look like is asserted over gRPC above and in @trellis/reflection.
  const [described, fromProto, unary, server, client, bidi, viaRegistry, describedViaRegistry, noReflection] = await Promise.all([
    trellis(['describe', n, 'demo.Greeter']),
    trellis(['describe', 'demo.Greeter', '--proto', GREETER_PROTO]),
    trellis(['call', n, 'SayHello', '-d', '{"name":"ann","mood":"HAPPY","counts":{"a":"12345678901234567"}}', '-H', 'x-tag:t1', ...blue]),
    trellis(['call', n, 'demo.Greeter/Subscribe', '-d', '{"name":"bo"}', ...blue]),
    trellis(['call', n, 'Upload', ...blue], { input: '{"name":"a"}\n{"name":"b"}\n{"name":"c"}\n' }),
    trellis(['call', n, 'Chat', '-d', '{"name":"ann"}\n{"name":"bo"}', ...blue]),
    trellis(['call', 'demo.Greeter', 'Chat', ...reg, ...blue], { input: '{"name":"via etcd"}\n' }),
    trellis(['describe', 'demo.Greeter.Upload', ...reg, ...blue]),
    trellis(['describe', natives.bare.address, '-o', 'text']),
  ]);
  t.equal(described.code, 0, described.stderr);
  t.equal(described.json().origin, `reflection at ${n} (v1)`);
  t.same(described.json().types, fromProto.json().types, 'message shapes over native reflection = from the .proto');
  t.same(described.json().service, fromProto.json().service, 'methods, kinds and idempotency too');
  t.equal(unary.code, 0, unary.stderr);
  t.same(unary.json(), { message: 'Hello ann (HAPPY) {a=12345678901234567} [x-tag=t1]' }, 'unary: enum by name, a map of int64 as text, -H metadata');
  t.equal(server.code, 0, server.stderr);
  t.same(server.stdout.trim().split('\n').map((line) => JSON.parse(line)), [1, 2, 3].map((i) => ({ message: `Hello bo #${i}` })), 'a server stream: one JSON per line');
  t.equal(client.code, 0, client.stderr);
  t.same(client.json(), { message: 'received 3: a, b, c' }, 'a client stream from stdin JSON lines');
  t.equal(bidi.code, 0, bidi.stderr);
  t.same(bidi.stdout.trim().split('\n'), ['{"message":"re: ann"}', '{"message":"re: bo"}'], 'a bidi stream from -d JSON lines');
  t.equal(viaRegistry.code, 0, viaRegistry.stderr);
  t.same(viaRegistry.stdout.trim().split('\n'), ['{"message":"re: via etcd"}'], 'a service from the registry: reflection and the stream at its native provider');
  t.equal(describedViaRegistry.code, 0, describedViaRegistry.stderr);
  t.match(describedViaRegistry.json(), { origin: `reflection at ${n} (v1)`, method: { name: 'Upload', kind: 'client-streaming' } });
  t.equal(noReflection.code, 4);
  t.match(noReflection.stderr, `error: the Trellis server at ${natives.bare.address} does not serve reflection`);
  t.match(noReflection.stderr, 'addReflection(server, protos)');
});
