import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { generateTypes, loadProto } from '../src/index.js';
import { parseCliArgs } from '../src/gen/cli-args.js';

const PACKAGE_ROOT = path.join(__dirname, '..');
const ECHO_DIR = path.join(PACKAGE_ROOT, '..', 'testkit', 'protos');
const FIXTURES = path.join(__dirname, 'fixtures');

// Compiles against the generated files the way an application would: strict, Node16 CommonJS, and
// this package by its name (mapped to src, so the test needs no build).
function typeCheck(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: ['node'],
    skipLibCheck: true,
    esModuleInterop: true,
    paths: { '@trellis/codec-protobuf': [path.join(PACKAGE_ROOT, 'src', 'index.ts')] },
  });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file
      ? `${path.relative(PACKAGE_ROOT, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}: `
      : '';
    return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  });
}

// Compiles only if the generated types say what they should; each @ts-expect-error line must fail.
const USAGE = `
import type { EchoServiceClient, EchoServiceHandlers } from './gen/trellis/test/EchoService';
import { EchoServiceName } from './gen/trellis/test/EchoService';
import type { EchoReply__Output } from './gen/trellis/test/EchoReply';
import type { RichServiceClient, RichServiceHandlers } from './gen/rich/v1/RichService';

export const serviceName: 'trellis.test.EchoService' = EchoServiceName;

export async function useClient(client: EchoServiceClient): Promise<string> {
  const reply: EchoReply__Output = await client.echo({ message: 'hi', id: '12', values: [1, 2] }, { timeoutMs: 50 });
  await client.mutate({ id: 5 });
  await client.mutate({});
  const id: string = reply.id;
  // @ts-expect-error a decoded int64 is a string, not a number
  const asNumber: number = reply.id;
  // @ts-expect-error message is a string
  await client.echo({ message: 5 });
  // @ts-expect-error unknown call option
  await client.echo({}, { timeout: 5 });
  // @ts-expect-error methods are lowerCamel only
  await client.Echo({});
  return id + reply.servedBy + reply.attempt.toFixed() + String(asNumber);
}

export const handlers: EchoServiceHandlers = {
  async echo(request, call) {
    const delay: number = request.delayMs;
    return { message: request.message, id: request.id, values: request.values, servedBy: String(delay), attempt: call.attempt };
  },
  mutate: (request) => ({ message: request.failMessage }),
};

export const badHandlers: EchoServiceHandlers = {
  echo: () => ({}),
  // @ts-expect-error attempt is a number
  mutate: () => ({ attempt: 'first' }),
};

export async function useRich(client: RichServiceClient): Promise<void> {
  const rich = await client.get({ color: 'RED', blob: Buffer.from('x'), byKey: { a: { snakeName: 's' } }, bigId: '1' });
  const color: 'COLOR_UNSPECIFIED' | 'RED' | 'GREEN' = rich.color;
  const nested: { x: number } | null = await client.put({ text: 'one of' });
  void color;
  void nested;
  for await (const event of client.watch({ text: 'w' }, { timeoutMs: 1000 })) {
    const text: string | undefined = event.text;
    void text;
  }
  async function* uploads() {
    yield { text: 'a' };
  }
  const uploaded: string | undefined = (await client.upload(uploads())).text;
  const chat = client.chat([{ text: 'hi' }]);
  const headers: ReadonlyMap<string, string> = await chat.headers;
  for await (const reply of chat) void reply.text;
  // @ts-expect-error a server-streaming call is iterated, not awaited for a message
  const notAMessage: string = (await client.watch({})).text;
  void uploaded;
  void headers;
  void notAMessage;
}

export const richHandlers: Pick<RichServiceHandlers, 'delete' | 'watch' | 'upload' | 'chat'> = {
  delete: async (request) => ({ snakeName: request.snakeName, child: request.child }),
  async *watch(request, call) {
    yield { text: request.text + String(call.attempt) };
  },
  async upload(requests) {
    let text = '';
    for await (const request of requests) text += request.text;
    return { text };
  },
  async *chat(requests) {
    for await (const request of requests) yield { text: request.text };
  },
};
`;

t.test('generated types for the echo and rich protos type-check against real usage', async (t) => {
  const dir = t.testdir({ 'usage.ts': USAGE });
  const outDir = path.join(dir, 'gen');
  const { serviceFiles } = await generateTypes({
    files: ['echo.proto', 'rich.proto'],
    includeDirs: [ECHO_DIR, FIXTURES],
    outDir,
    includeComments: true,
  });
  t.same(
    serviceFiles.map((file) => path.relative(outDir, file)).sort(),
    ['rich/v1/OtherService.ts', 'rich/v1/RichService.ts', 'trellis/test/EchoService.ts'],
  );
  const echoService = fs.readFileSync(path.join(outDir, 'trellis', 'test', 'EchoService.ts'), 'utf8');
  t.match(echoService, 'echo(request: _trellis_test_EchoRequest, options?: CallOptions): Promise<_trellis_test_EchoReply__Output>;');
  t.match(echoService, 'echo(request: _trellis_test_EchoRequest__Output, call: ServerInvocation): Promise<_trellis_test_EchoReply> | _trellis_test_EchoReply;');
  t.match(echoService, '* Safe to retry.', 'comments carried over');
  const richService = fs.readFileSync(path.join(outDir, 'rich', 'v1', 'RichService.ts'), 'utf8');
  t.match(richService, 'watch(request: _rich_v1_Rich, options?: CallOptions): ResponseStream<_rich_v1_Rich__Output>;');
  t.match(richService, 'upload(requests: RequestStream<_rich_v1_Rich>, options?: CallOptions): Promise<_rich_v1_Rich__Output>;');
  t.match(richService, 'chat(requests: AsyncIterable<_rich_v1_Rich__Output>, call: ServerInvocation): AsyncIterable<_rich_v1_Rich>;');
  const echoRequest = fs.readFileSync(path.join(outDir, 'trellis', 'test', 'EchoRequest.ts'), 'utf8');
  t.match(echoRequest, "import type { Long } from '@trellis/codec-protobuf';", 'no import an app cannot resolve');
  t.notMatch(echoRequest, '@grpc/proto-loader');

  const generated = fs.readdirSync(outDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(outDir, file));
  t.same(typeCheck([path.join(dir, 'usage.ts'), ...generated]), [], 'no type errors');
});

// With --longs BigInt, decoded int64 fields are bigint (as loadProto's `longs: BigInt` decodes them),
// and a bigint can be sent back.
const BIGINT_USAGE = `
import type { EchoServiceClient } from './gen/trellis/test/EchoService';
import type { RichServiceClient } from './gen/rich/v1/RichService';

export async function useClient(client: EchoServiceClient): Promise<bigint> {
  const reply = await client.echo({ id: 12n });
  await client.echo({ id: '12' });
  await client.echo({ id: reply.id + 1n });
  // @ts-expect-error a decoded int64 is a bigint, not a string
  const asString: string = reply.id;
  void asString;
  return reply.id;
}

export async function useRich(client: RichServiceClient): Promise<bigint> {
  const rich = await client.get({ u64: 1n, s64: -1n });
  return rich.bigId + rich.u64 + rich.s64 + rich.f64 + rich.sf64;
}
`;

t.test('--longs BigInt: int64 fields are bigint in decoded messages, and accept one when sent', async (t) => {
  const dir = t.testdir({ 'usage.ts': BIGINT_USAGE });
  const outDir = path.join(dir, 'gen');
  await generateTypes({ files: ['echo.proto', 'rich.proto'], includeDirs: [ECHO_DIR, FIXTURES], outDir, longs: 'BigInt' });
  const rich = fs.readFileSync(path.join(outDir, 'rich', 'v1', 'Rich.ts'), 'utf8');
  t.match(rich, "'bigId': (bigint);");
  t.match(rich, "'bigId'?: (number | string | bigint | Long);");
  t.notMatch(rich, /\(Long\)/, 'no output field is left as Long');
  const generated = fs.readdirSync(outDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(outDir, file));
  t.same(typeCheck([path.join(dir, 'usage.ts'), ...generated]), [], 'no type errors');

  // The types describe what loadProto({ longs: BigInt }) really decodes.
  const codec = loadProto('echo.proto', { includeDirs: [ECHO_DIR], longs: BigInt }).message('trellis.test.EchoRequest');
  const decoded = codec.decode(codec.encode({ id: 9007199254740993n })) as { id: unknown };
  t.equal(decoded.id, 9007199254740993n);
});

t.test('the type checker does catch a wrong usage (the test above is not vacuous)', async (t) => {
  const dir = t.testdir({ 'wrong.ts': `import type { EchoServiceClient } from './gen/trellis/test/EchoService';\nexport const f = (c: EchoServiceClient) => c.echo({ values: 'x' });\n` });
  await generateTypes({ files: [path.join(ECHO_DIR, 'echo.proto')], outDir: path.join(dir, 'gen') });
  const errors = typeCheck([path.join(dir, 'wrong.ts')]);
  t.equal(errors.length, 1);
  t.match(errors[0], /wrong\.ts:2: .*'string' is not assignable/);
});

t.test('a missing file fails before proto-loader-gen-types runs, with the load error', async (t) => {
  const dir = t.testdir({});
  await t.rejects(generateTypes({ files: ['nope.proto'], includeDirs: [FIXTURES], outDir: dir }), { code: 'ERR_PROTO_LOAD_FAILED' });
  t.same(fs.readdirSync(dir), []);
});

t.test('CLI arguments', async (t) => {
  t.same(parseCliArgs(['-O', 'out', '-I', 'a', '-I', 'b', '--no-defaults', '--longs', 'Number', 'x.proto', 'y.proto']), {
    help: false,
    options: { files: ['x.proto', 'y.proto'], outDir: 'out', includeDirs: ['a', 'b'], defaults: false, longs: 'Number' },
  });
  t.match(parseCliArgs(['-O', 'out', '--longs', 'BigInt', 'x.proto']), { options: { longs: 'BigInt' } }, 'every longs mode loadProto supports');
  t.same(parseCliArgs(['--help']), { help: true });
  t.throws(() => parseCliArgs(['x.proto']), /--outDir/);
  t.throws(() => parseCliArgs(['-O', 'out']), /no \.proto files/);
  t.throws(() => parseCliArgs(['-O', 'out', '--enums', 'Name', 'x.proto']), /--enums must be one of String, Number/);
  t.throws(() => parseCliArgs(['-O', 'out', '--longs', 'bigint', 'x.proto']), /--longs must be one of String, Number, Long, BigInt; got "bigint"/);
  t.throws(() => parseCliArgs(['-O', 'out', '--grpcLib', '@grpc/grpc-js', 'x.proto']), /grpcLib/);
});
