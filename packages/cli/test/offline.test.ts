import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startEchoServer, ECHO_PROTO_PATH, type EchoServer } from '@trellis/testkit';
import { PROTOCOLS } from '../src/call/protocols.js';
import { CALL_TRANSPORTS } from '../src/call/transports.js';
import { DOCUMENT_NAMES } from '../src/rules/document-names.js';
import { RULE_DOCUMENTS } from '../src/rules/documents.js';
import { BIN, trellis } from './fixtures/cli.js';

/** The commands that need no registry: describe, call to an address, rules validate, usage errors, completion. */
const GREETER = join(__dirname, 'fixtures', 'greeter.proto');
const ECHO = ['--proto', ECHO_PROTO_PATH];

let echo: EchoServer;
t.before(async () => {
  echo = await startEchoServer({ servedBy: 'static' });
});
t.teardown(() => echo?.close());

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'trellis-cli-offline-'));
}

t.test('version, help and usage errors', async (t) => {
  const [version, help, unknown, noRegistry, badScheme, badTimeout] = await Promise.all([
    trellis(['--version']),
    trellis(['--help']),
    trellis(['lss']),
    trellis(['ls']),
    trellis(['ls', '--registry', 'consul://10.0.0.1:8500']),
    trellis(['call', echo.address, 'Echo', ...ECHO, '--timeout', 'soon']),
  ]);
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  t.equal(version.stdout.trim(), pkg.version);
  t.equal(help.code, 0);
  t.match(help.stdout, /Exit codes:\n\s+0\s+ok\n\s+1\s+the call or health check failed/);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, "unknown command 'lss'");
  t.match(unknown.stderr, 'Did you mean ls?');
  t.equal(noRegistry.code, 2);
  t.match(noRegistry.json().error, { code: 'ERR_USAGE', message: 'this command needs a registry', hint: /--registry .*TRELLIS_REGISTRY/ });
  t.equal(badScheme.code, 2);
  t.match(badScheme.json().error.message, 'unknown scheme "consul://"');
  t.equal(badTimeout.code, 2);
  t.match(badTimeout.json().error, { code: 'ERR_INVALID_OPTION', flag: '--timeout', message: 'option "--timeout" is "soon"; expected a duration up to 2147483647 ms', hint: /250ms, 2s/ }, 'worded and coded by core\'s invalidOption');
});

t.test('describe shows methods with their streaming kinds and the message shapes', async (t) => {
  const [services, service, method, text, unknown, noProto] = await Promise.all([
    trellis(['describe', '--proto', GREETER]),
    trellis(['describe', 'demo.Greeter', '--proto', GREETER]),
    trellis(['describe', 'demo.Greeter/SayHello', '--proto', GREETER]),
    trellis(['describe', 'demo.Greeter', '--proto', GREETER, '-o', 'text']),
    trellis(['describe', 'demo.Greter', '--proto', GREETER, '-o', 'text']),
    trellis(['describe', 'demo.Greeter']),
  ]);
  t.equal(services.code, 0, services.stderr);
  t.same(services.json().services[0].methods.map((m: { name: string; kind: string }) => `${m.name}:${m.kind}`), [
    'SayHello:unary', 'Subscribe:server-streaming', 'Upload:client-streaming', 'Chat:bidi-streaming',
  ]);
  t.equal(service.code, 0, service.stderr);
  const request = service.json().types.find((s: { name: string }) => s.name === 'demo.HelloRequest');
  t.match(request.fields, [
    { name: 'name', type: 'string', label: 'singular', number: 1 },
    { name: 'mood', type: 'demo.Mood' },
    { name: 'counts', type: 'int64', label: 'map', keyType: 'string' },
    { name: 'text', oneof: 'greeting' },
    { name: 'raw', type: 'bytes', oneof: 'greeting' },
    { name: 'home', type: 'demo.Address' },
    { name: 'retries', type: 'int32', label: 'optional' },
  ]);
  t.same(service.json().types.map((s: { name: string }) => s.name).sort(), ['demo.Address', 'demo.HelloReply', 'demo.HelloRequest', 'demo.Mood']);
  t.match(method.json(), { service: 'demo.Greeter', method: { name: 'SayHello', kind: 'unary', idempotency: 'NO_SIDE_EFFECTS' } });
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, 'rpc Subscribe (demo.HelloRequest) returns (stream demo.HelloReply);');
  t.match(text.stdout, 'rpc Upload (stream demo.HelloRequest) returns (demo.HelloReply);');
  t.match(text.stdout, 'rpc Chat (stream demo.HelloRequest) returns (stream demo.HelloReply);  // bidi-streaming');
  t.match(text.stdout, 'rpc SayHello (demo.HelloRequest) returns (demo.HelloReply);  // unary, no side effects');
  t.match(text.stdout, '  oneof greeting {\n    string text = 4;\n    bytes raw = 5;\n  }');
  t.match(text.stdout, '  map<string, int64> counts = 3;');
  t.match(text.stdout, 'enum demo.Mood {\n  MOOD_UNSPECIFIED = 0;');
  t.equal(unknown.code, 4);
  t.match(unknown.stderr, 'hint: did you mean "demo.Greeter"?');
  t.equal(noProto.code, 2);
  t.match(noProto.json().error.hint, '--proto');
});

t.test('call host:port: the request is checked against the .proto before anything is sent', async (t) => {
  const [ok, qualified, badJson, badFields, unknownMethod, streaming, badHeader] = await Promise.all([
    trellis(['call', echo.address, 'Echo', '-d', '{"message":"static","delay_ms":0}', ...ECHO]),
    trellis(['call', echo.address, 'trellis.test.EchoService/Mutate', '-d', '{"values":["7"]}', ...ECHO, '--proto-names']),
    trellis(['call', echo.address, 'Echo', '-d', '{\n  "message": "x",\n  "id": 3,\n}', ...ECHO, '-o', 'text']),
    trellis(['call', echo.address, 'Echo', '-d', '{"mesage": "x", "id": 1e20, "values": "1"}', ...ECHO]),
    trellis(['call', echo.address, 'Ecko', ...ECHO]),
    trellis(['call', echo.address, 'demo.Greeter/Chat', '--proto', GREETER]),
    trellis(['call', echo.address, 'Echo', ...ECHO, '-H', 'no-colon']),
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.json(), { message: 'static', servedBy: 'static' });
  t.equal(qualified.code, 0, qualified.stderr);
  t.match(qualified.json(), { values: [7], served_by: 'static' }, '"7" read as an int32; --proto-names keeps served_by');
  t.equal(badJson.code, 2);
  t.match(badJson.stderr, 'is not valid JSON: Expected double-quoted property name at line 4, column 1');
  t.match(badJson.stderr, '\n  }\n  ^');
  t.equal(badFields.code, 2);
  t.match(badFields.json().error.issues, [
    { path: 'mesage', message: /has no field "mesage"; did you mean "message"\?/ },
    { path: 'id', message: /decimal string/ },
    { path: 'values', message: /expected an array/ },
  ]);
  t.equal(unknownMethod.code, 4);
  t.match(unknownMethod.json().error, { suggestions: ['Echo'] });
  t.equal(streaming.code, 1, 'a native stream to a server without the service');
  t.match(streaming.json().error, { code: 'ERR_RPC_FAILED', status: { code: 'UNIMPLEMENTED', message: /demo\.Greeter is not served here/ } });
  t.equal(badHeader.code, 2);
});

t.test('health of an address: PING round trips; a closed port is UNREACHABLE with exit 1', async (t) => {
  const [up, down] = await Promise.all([trellis(['health', echo.address, '-c', '3']), trellis(['health', '127.0.0.1:1', '-o', 'text'])]);
  t.equal(up.code, 0, up.stderr);
  t.match(up.json(), { ok: true, checks: [{ check: 'ping', target: echo.address, status: 'UP' }] });
  t.equal(up.json().checks[0].rttMs.length, 2, 'the first PING dials; two more are timed');
  t.equal(down.code, 1);
  t.match(down.stdout, /127\.0\.0\.1:1\s+ping\s+UNREACHABLE\s+.*ECONNREFUSED/);
});

t.test('rules validate uses the plugins\' schemas; the document comes from --doc or the file name', async (t) => {
  const d = dir();
  const write = (name: string, text: string) => (writeFileSync(join(d, name), text), join(d, name));
  const routes = write('routes.yaml', 'ip:\n  - name: office\n    from: ["10.0.0.0/8"]\n    to: ["10.1.0.0/16"]\n');
  const badRoutes = write('routes-bad.json', '{"param": [{"name": "a", "match": [{"field": "x", "op": "regex", "value": "("}], "target": {"lane": "gray"}}], "extra": []}');
  const limits = write('limits.json', '{"qps": 100, "methods": {"Echo": {"maxConcurrency": "auto", "qps": null}}}');
  const badLimits = write('limits-bad.json', '{"qps": -1}');
  const custom = write('canary.json', '{"errorRatio": 0.2, "coolDownMs": 50000}');
  const [valid, invalid, limitsOk, limitsBad, noDoc, customKind, typo] = await Promise.all([
    trellis(['rules', 'validate', 'demo.Greeter', routes, '-o', 'text']),
    trellis(['rules', 'validate', 'demo.Greeter', badRoutes, '--doc', 'routes']),
    trellis(['rules', 'validate', 'demo.Greeter', limits]),
    trellis(['rules', 'validate', 'demo.Greeter', badLimits, '--doc', 'limits', '-o', 'text']),
    trellis(['rules', 'validate', 'demo.Greeter', custom]),
    trellis(['rules', 'validate', 'demo.Greeter', custom, '--doc', 'canary', '--kind', 'breaker']),
    trellis(['rules', 'validate', 'demo.Greeter', routes, '--kind', 'route']),
  ]);
  t.equal(valid.code, 0, valid.stderr);
  t.match(valid.stdout, `valid: ${routes} is a valid routes document`);
  t.equal(invalid.code, 5);
  t.match(invalid.json().error.problems, [{ field: 'extra', message: /unknown section/ }]);
  t.equal(limitsOk.code, 0, limitsOk.stderr);
  t.equal(limitsBad.code, 5);
  t.match(limitsBad.stderr, '"qps" is -1; expected a finite number > 0');
  t.equal(noDoc.code, 2, 'canary.json names no known document');
  t.match(noDoc.json().error.hint, '--doc');
  t.equal(customKind.code, 5, 'validated as a breaker document: coolDownMs above maxCoolDownMs');
  t.match(customKind.json().error.problems[0].message, /maxCoolDownMs/);
  t.equal(typo.code, 2);
});

t.test('bash completion: commands, options and option values from the command tree', async (t) => {
  const bin = dir();
  writeFileSync(join(bin, 'trellis'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'trellis'), 0o755);
  const complete = (words: string[]): string => {
    const script = `source <(trellis completion bash)\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}\n_trellis\necho "\${COMPREPLY[*]}"`;
    const result = spawnSync('bash', ['-c', script], { env: { ...process.env, NODE_OPTIONS: '', PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
    return result.stdout.trim();
  };
  t.equal(complete(['trellis', 'ru']), 'rules');
  t.same(complete(['trellis', 'rules', '']).split(' ').sort(), ['delete', 'diff', 'get', 'set', 'validate']);
  t.same(complete(['trellis', '--registry', 'etcd://x:1', 'call', 'svc', 'Echo', '--pro']).split(' ').sort(), ['--proto', '--proto-names', '--protocol']);
  t.same(complete(['trellis', 'ls', '-o', '']).split(' ').sort(), ['json', 'text']);
  t.same(complete(['trellis', 'rules', 'set', 'svc', 'f', '--kind', 'b']).split(' '), ['breaker']);
  t.match(complete(['trellis', 'describe', '--proto', join(__dirname, 'fixtures', 'gree')]), /greeter\.proto/, 'files after --proto');
});

t.test('zsh completion loads the same logic through bashcompinit', { skip: spawnSync('zsh', ['-c', 'true']).error ? 'zsh is not installed' : false }, async (t) => {
  const script = spawnSync(process.execPath, [BIN, 'completion', 'zsh'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }).stdout;
  const parsed = spawnSync('zsh', ['-c', `autoload -U compinit && compinit -u; ${script}\n(( $+functions[_trellis] )) && print defined`], { encoding: 'utf8' });
  t.equal(parsed.stdout.trim(), 'defined', `zsh loads the script (${parsed.stderr})`);
});

t.test('the names the help lists are the ones that run', async (t) => {
  t.same([...CALL_TRANSPORTS.keys()], [...PROTOCOLS], '--protocol choices');
  t.same(RULE_DOCUMENTS.map((k) => k.name), [...DOCUMENT_NAMES], 'rule documents');
});
