import t from 'tap';
import { definePlugin, InterceptorOrder, RpcClient, type Plugin } from '../src/index.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

/**
 * A client's fixed request metadata (`ClientPluginContext.addRequestMetadata`, and the `caller`
 * option): every call carries it, whether it has metadata of its own or not, and whoever reads a
 * call's metadata sees it; the fixed entries win over the caller's own, as a credential gate did.
 */

interface Echoed {
  metadata: Record<string, string>;
}

function fixed(entries: Record<string, string>, seen?: string[]): Plugin {
  return definePlugin({
    meta: { name: 'test-fixed-metadata', kernel: '^0.1.0' },
    setupClient(ctx) {
      for (const [key, value] of Object.entries(entries)) ctx.addRequestMetadata(key, value);
      if (seen !== undefined) {
        ctx.addInterceptor((next) => (inv) => {
          seen.push(inv.metadata.get('x-tenant') ?? 'none');
          return next(inv);
        }, InterceptorOrder.USER);
      }
    },
  });
}

t.test('every call carries the fixed entries, with or without metadata of its own', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address], caller: 'orders', plugins: [fixed({ 'x-tenant': 'acme', authorization: 'token-1' })] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const call = async (metadata?: Record<string, string>) =>
    ((await client.invoke('Echo', { message: 'm' }, metadata === undefined ? undefined : { metadata })) as Echoed).metadata;
  const expected = { 'trellis-caller': 'orders', 'x-tenant': 'acme', authorization: 'token-1' };
  t.same(await call(), expected, 'a call without metadata sends the fixed entries');
  t.same(await call(), expected, 'and again (the encoded block reused)');
  t.same(await call({ 'x-own': 'v' }), { ...expected, 'x-own': 'v' }, 'a call with its own entries gets the fixed ones too');
  t.same(await call({ authorization: 'mine' }), expected, 'a fixed entry wins over the call\'s own');
  t.same(await call(), expected, 'a call after those is back to the fixed entries alone');
});

t.test('an interceptor reading the call\'s metadata sees the fixed entries', async (t) => {
  const { server, address } = await startEchoServer('a');
  const seen: string[] = [];
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [fixed({ 'x-tenant': 'acme' }, seen)] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const echoed = (await client.invoke('Echo', { message: 'm' })) as Echoed;
  t.same(seen, ['acme']);
  t.same(echoed.metadata, { 'x-tenant': 'acme' });
});

t.test('a bad fixed entry is refused when the client starts', async (t) => {
  for (const [key, value] of [['Upper', 'v'], ['trellis-caller', 'v'], ['ok', 7 as unknown as string]] as const) {
    const client = new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], plugins: [fixed({ [key]: value })] });
    await t.rejects(client.start(), { code: 'ERR_INVALID_OPTION', message: /addRequestMetadata/ }, `${key}: ${String(value)}`);
    await client.close();
  }
});
