import { Code, RpcClient, RpcServer, type RpcError, type ServerInvocation } from '@trellis/core';
import { createTickHandlers, loadTickService, TickProbe, type Tick, type TickRequest } from '@trellis/testkit';
import t from 'tap';
import { clientAuth, PRINCIPAL, serverAuth, sharedTokens } from '../src/index.js';

/**
 * Streams (issue #18) over the native transport on loopback: the server checks the
 * credential once, when the stream opens (its interceptor runs once, around the whole handler); the
 * client sends it once, in the stream's metadata.
 */
const READER = 'reader-token-0123456789';

async function* ticks(n: number): AsyncGenerator<Tick> {
  for (let seq = 1; seq <= n; seq++) yield { seq };
}

t.test('a stream is authenticated and authorized at its open, once', async (t) => {
  const probe = new TickProbe();
  const base = createTickHandlers('p', probe);
  const server = new RpcServer({
    host: '127.0.0.1',
    plugins: [serverAuth({
      verifier: sharedTokens({ [READER]: { id: 'dashboard', roles: ['reader'] } }),
      rules: { 'trellis.test.TickService/Ticks': ['reader'], 'trellis.test.TickService/Collect': ['writer'] },
    })],
  }).addService(loadTickService(), {
    ...base,
    // Each tick names the principal the handler sees.
    async *ticks(request: TickRequest, call: ServerInvocation) {
      for await (const tick of base.ticks(request, call)) yield { ...tick, servedBy: call.context.get(PRINCIPAL)?.id ?? 'anonymous' };
    },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  const addresses = [`127.0.0.1:${server.port}`];
  let credentialsAsked = 0;
  const reader = new RpcClient({
    service: loadTickService(), addresses,
    plugins: [clientAuth({ credential: () => (credentialsAsked++, READER) })],
  });
  const nobody = new RpcClient({ service: loadTickService(), addresses });
  t.teardown(() => Promise.all([reader.close(), nobody.close()]));

  const seen: string[] = [];
  for await (const tick of reader.stream('Ticks', { count: 5 })) seen.push((tick as Tick).servedBy!);
  t.same(seen, ['dashboard', 'dashboard', 'dashboard', 'dashboard', 'dashboard'], 'the handler sees the principal for the whole stream');
  t.equal(credentialsAsked, 1, 'one credential per stream, not per message');

  const unauthenticated = await (async () => {
    for await (const tick of nobody.stream('Ticks', { count: 5 })) void tick;
  })().catch((e: unknown) => e as RpcError);
  t.equal(unauthenticated?.code, Code.UNAUTHENTICATED, 'no credential: refused at the open');
  const denied = (await reader.invoke('Collect', ticks(3)).catch((e: unknown) => e)) as RpcError;
  t.equal(denied.code, Code.PERMISSION_DENIED, 'a client stream without the role: refused at the open');
  t.match(denied.message, /dashboard may not call trellis\.test\.TickService\/Collect/);
  t.equal(probe.opened, 1, 'refused streams never reached their handler');
});
