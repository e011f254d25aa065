import t from 'tap';
import { Code, RpcClient, RpcServer, type RpcError, type ServerInvocation } from '@trellis/core';
import { createEchoHandlers, loadEchoService, makeTestCertificates } from '@trellis/testkit';
import { clientAuth, PRINCIPAL, serverAuth, sharedTokens, tlsIdentity } from '../src/index.js';

const READER = 'reader-token-0123456789';
const WRITER = 'writer-token-0123456789';

async function start(plugins: Parameters<RpcServer['use']>[0][], tls?: object) {
  const server = new RpcServer({ host: '127.0.0.1', plugins, tcp: tls ? { tls } : undefined });
  const handlers = createEchoHandlers({ servedBy: 'p' });
  server.addService(loadEchoService(), {
    echo: async (request: Parameters<typeof handlers.echo>[0], call: ServerInvocation) => ({ ...(await handlers.echo(request, call)), message: call.context.get(PRINCIPAL)?.id ?? 'anonymous' }),
    mutate: handlers.mutate,
  });
  return server.start();
}

const code = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as RpcError).code;

t.test('shared tokens: per-method roles, UNAUTHENTICATED and PERMISSION_DENIED', async (t) => {
  const server = await start([serverAuth({
    verifier: sharedTokens({ [READER]: { id: 'dashboard', roles: ['reader'] }, [WRITER]: { id: 'orders', roles: ['reader', 'writer'] } }),
    rules: { 'trellis.test.EchoService/Echo': ['reader'], 'trellis.test.EchoService/Mutate': ['writer'] },
  })]);
  const address = [`127.0.0.1:${server.port}`];
  const reader = new RpcClient({ service: loadEchoService(), addresses: address, plugins: [clientAuth({ credential: READER })] });
  const writer = new RpcClient({ service: loadEchoService(), addresses: address, plugins: [clientAuth({ credential: () => `Bearer ${WRITER}` })] });
  const nobody = new RpcClient({ service: loadEchoService(), addresses: address });
  const forger = new RpcClient({ service: loadEchoService(), addresses: address, plugins: [clientAuth({ credential: 'writer-token-0123456780' })] });
  t.teardown(async () => { await Promise.all([reader, writer, nobody, forger].map((c) => c.close())); await server.close(); });
  t.match(await reader.invoke('Echo', {}), { message: 'dashboard' }, 'the handler sees the principal');
  t.equal(await code(reader.invoke('Mutate', {})), Code.PERMISSION_DENIED);
  t.match(await writer.invoke('Mutate', {}), { servedBy: 'p' });
  t.equal(await code(nobody.invoke('Echo', {})), Code.UNAUTHENTICATED);
  t.equal(await code(forger.invoke('Echo', {})), Code.UNAUTHENTICATED);
  const denied = (await reader.invoke('Mutate', {}).catch((e: unknown) => e)) as RpcError;
  t.match(denied.message, /dashboard may not call trellis\.test\.EchoService\/Mutate \(needs one of: writer\)/);
  t.equal(denied.mayHaveRun, false);
});

t.test('asynchronous and failing verifiers and credentials', async (t) => {
  const verifier = async (credential: string | undefined) => {
    await new Promise((resolve) => setImmediate(resolve)); // e.g. a token-introspection call
    if (credential === 'explode') throw new Error('introspection service down');
    return credential === 'async-ok' ? { id: 'async-user', roles: [] } : undefined;
  };
  const server = await start([serverAuth({ verifier, rules: { '*': [] } })]);
  const address = [`127.0.0.1:${server.port}`];
  const later = new RpcClient({ service: loadEchoService(), addresses: address, plugins: [clientAuth({ credential: async () => 'async-ok' })] });
  const wrong = new RpcClient({ service: loadEchoService(), addresses: address, plugins: [clientAuth({ credential: async () => 'nope' })] });
  const exploding = new RpcClient({ service: loadEchoService(), addresses: address, plugins: [clientAuth({ credential: 'explode' })] });
  const noSource = new RpcClient({
    service: loadEchoService(),
    addresses: address,
    plugins: [clientAuth({ credential: () => { throw new Error('token store locked'); } })],
  });
  t.teardown(async () => { await Promise.all([later, wrong, exploding, noSource].map((c) => c.close())); await server.close(); });
  t.match(await later.invoke('Echo', {}), { message: 'async-user' }, 'a promised credential and an async verifier');
  t.equal(await code(wrong.invoke('Echo', {})), Code.UNAUTHENTICATED);
  const failed = (await exploding.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(failed.code, Code.UNKNOWN, 'a verifier that throws fails the call as UNKNOWN (an unexpected server error), the server lives on');
  t.match(await later.invoke('Echo', {}), { message: 'async-user' }, 'and keeps serving');
  const local = await noSource.invoke('Echo', {}).catch((e: unknown) => e);
  t.match(local, { message: /token store locked/ }, 'a credential function that throws fails the call as a rejection, not a throw');
});

t.test('mTLS identity as the principal', async (t) => {
  const certs = makeTestCertificates({ clients: ['billing', 'intruder'] });
  const server = await start(
    [serverAuth({ verifier: tlsIdentity({ billing: ['payments'] }), rules: { '*': ['payments'] } })],
    { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
  );
  const tls = (name: 'billing' | 'intruder') => ({ tls: { ca: certs.ca, ...certs.clients[name] } });
  const billing = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], tcp: tls('billing') });
  const intruder = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], tcp: tls('intruder') });
  t.teardown(async () => { await billing.close(); await intruder.close(); await server.close(); });
  t.match(await billing.invoke('Echo', {}), { message: 'billing' });
  t.equal(await code(intruder.invoke('Echo', {})), Code.PERMISSION_DENIED, 'a valid certificate without the role is denied');
});

t.test('bad configuration is a coded error', async (t) => {
  t.throws(() => serverAuth({} as never), { code: 'ERR_INVALID_OPTION', message: /verifier/ });
  t.throws(() => sharedTokens({ short: { id: 'x', roles: [] } }), { code: 'ERR_INVALID_OPTION', message: /at least 16 characters/ });
  t.throws(() => clientAuth({ credential: 42 } as never), { code: 'ERR_INVALID_OPTION' });
});

t.test('sharedTokens matches the whole token only, with or without a Bearer prefix in any case', async (t) => {
  const verify = sharedTokens({ [READER]: { id: 'dashboard', roles: ['reader'] }, [WRITER]: { id: 'orders', roles: ['writer'] } });
  const call = {} as ServerInvocation;
  t.equal((await verify(READER, call))?.id, 'dashboard');
  t.equal((await verify(WRITER, call))?.id, 'orders', 'the second token, after a call with the first (one scratch buffer)');
  t.equal((await verify(`Bearer ${READER}`, call))?.id, 'dashboard');
  t.equal((await verify(`bEaReR \t${WRITER}`, call))?.id, 'orders', 'the prefix in any case, any whitespace after it');
  t.equal(await verify(`Bearer${READER}`, call), undefined, 'no whitespace after Bearer: the credential is taken as it is');
  t.equal(await verify(READER.slice(0, -1), call), undefined, 'a prefix of a token');
  t.equal(await verify(`${READER}x`, call), undefined, 'a token with a byte more');
  t.equal(await verify(`${READER.slice(0, -1)}é`, call), undefined, 'the same length in characters, one more in bytes');
  t.equal(await verify(`${READER}é`, call), undefined, 'a token followed by a multi-byte character');
  t.equal(await verify('x'.repeat(10_000), call), undefined, 'far longer than any token');
  t.equal(await verify('', call), undefined);
  t.equal(await verify(undefined, call), undefined);
  t.equal((await verify(READER, call))?.id, 'dashboard', 'still matches after all of those');
});

t.test('sharedTokens compares what the UTF-8 bytes would say: non-ASCII tokens, lone surrogates', async (t) => {
  const unicode = 'tökén-ünïcødé-ãåäâàá-✓';
  const lone = 'lone-surrogate-token-\ud800';
  const verify = sharedTokens({ [unicode]: { id: 'unicode', roles: [] }, [lone]: { id: 'lone', roles: [] } });
  const call = {} as ServerInvocation;
  t.equal((await verify(unicode, call))?.id, 'unicode', 'a non-ASCII token');
  t.equal((await verify(`Bearer ${unicode}`, call))?.id, 'unicode', 'with a Bearer prefix');
  t.equal(await verify(unicode.replace('✓', '✗'), call), undefined, 'one character differs, same byte length');
  t.equal(await verify(unicode.slice(0, -1), call), undefined, 'a prefix');
  // UTF-8 writes a lone surrogate as U+FFFD: as bytes, these are the same credential.
  t.equal((await verify(lone, call))?.id, 'lone', 'the token itself');
  t.equal((await verify('lone-surrogate-token-\ufffd', call))?.id, 'lone', 'U+FFFD where the token has a lone surrogate');
  t.equal((await verify('lone-surrogate-token-\udc00', call))?.id, 'lone', 'another lone surrogate');
  t.equal(await verify('lone-surrogate-token-\ud800\udc00', call), undefined, 'a surrogate pair is another character');
});

t.test('a verdict by the credential alone is reused for the very same received block, never for other bytes', async (t) => {
  const table = sharedTokens({ [READER]: { id: 'dashboard', roles: [] } });
  let asked = 0;
  const counted = Object.assign((credential: string | undefined, call: ServerInvocation) => {
    asked++;
    return table(credential, call);
  }, { byCredentialOnly: true });
  let plainAsked = 0;
  const plain = (credential: string | undefined, call: ServerInvocation) => {
    plainAsked++;
    return table(credential, call);
  };
  const server = await start([serverAuth({ verifier: counted })]);
  const plainServer = await start([serverAuth({ verifier: plain })]);
  const forged = `${READER.slice(0, -1)}x`; // the same length, the last byte differs
  let next: string = READER;
  const client = (port: number) => new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${port}`], plugins: [clientAuth({ credential: () => next })] });
  const caller = client(server.port);
  const plainCaller = client(plainServer.port);
  t.teardown(async () => { await caller.close(); await plainCaller.close(); await server.close(); await plainServer.close(); });

  for (let i = 0; i < 5; i++) t.match(await caller.invoke('Echo', {}), { message: 'dashboard' }, `call ${i} with the token`);
  t.ok(asked < 5, `the verifier was asked ${asked} times for 5 calls with the same block`);
  const before = asked;
  next = forged;
  t.equal(await code(caller.invoke('Echo', {})), Code.UNAUTHENTICATED, 'other bytes on the same connection: verified, refused');
  t.equal(await code(caller.invoke('Echo', {})), Code.UNAUTHENTICATED, 'and again');
  t.ok(asked > before, 'the forged block was verified');
  next = READER;
  t.match(await caller.invoke('Echo', {}), { message: 'dashboard' }, 'the token again');

  next = READER;
  for (let i = 0; i < 3; i++) t.match(await plainCaller.invoke('Echo', {}), { message: 'dashboard' });
  t.equal(plainAsked, 3, 'a verifier not marked byCredentialOnly is asked every call');
});
