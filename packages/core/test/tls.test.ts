import t from 'tap';
import { Code, RpcClient, RpcServer, type RpcError, type ServerInvocation } from '../src/index.js';
import { makeCertificates } from './fixtures/certificates.js';
import { ECHO, echoHandlers } from './fixtures/json-service.js';

const certs = makeCertificates();

async function tlsServer(mutual: boolean, errors: string[]) {
  const server = new RpcServer({
    host: '127.0.0.1',
    tcp: {
      tls: { key: certs.serverKey, cert: certs.serverCert, ...(mutual ? { ca: certs.ca, requestCert: true, rejectUnauthorized: true } : {}) },
      onProtocolError: (_peer, message) => errors.push(message),
    },
  });
  const handlers = echoHandlers('tls');
  server.addService(ECHO, {
    ...handlers,
    echo: async (request: object, call: ServerInvocation) => ({ ...(await handlers.echo(request, call)), identity: call.peer.identity ?? null }),
  });
  return server.start();
}

t.test('TLS: a client that trusts the CA talks to the server', async (t) => {
  const errors: string[] = [];
  const server = await tlsServer(false, errors);
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`], tcp: { tls: { ca: certs.ca } } });
  t.teardown(async () => { await client.close(); await server.close(); });
  t.match(await client.invoke('Echo', { message: 'secret' }), { message: 'secret', identity: null });
  t.same(errors, []);
});

t.test('mutual TLS: the client certificate identity reaches the handler', async (t) => {
  const errors: string[] = [];
  const server = await tlsServer(true, errors);
  const address = `127.0.0.1:${server.port}`;
  const good = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } } });
  const noCert = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca } }, transparentRetries: 0 });
  const stranger = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey } }, transparentRetries: 0 });
  t.teardown(async () => { await good.close(); await noCert.close(); await stranger.close(); await server.close(); });
  t.match(await good.invoke('Echo', { message: 'hi' }), { identity: 'orders-service' });
  for (const [name, client] of [['no certificate', noCert], ['a certificate from an unknown CA', stranger]] as const) {
    const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
    t.equal(error.code, Code.UNAVAILABLE, `${name}: refused`);
    t.match(error.message, /127\.0\.0\.1/, `${name}: the message names the server (${error.message})`);
  }
  t.ok(errors.some((e) => /TLS handshake failed/.test(e)), `the server reports the refused handshakes (${errors.join(' | ')})`);
});

t.test('a plaintext client at a TLS port, and a TLS client at a plaintext port, get clear errors', async (t) => {
  const tlsErrors: string[] = [];
  const secure = await tlsServer(false, tlsErrors);
  const plainErrors: string[] = [];
  const plain = new RpcServer({ host: '127.0.0.1', tcp: { onProtocolError: (_p, m) => plainErrors.push(m) } });
  plain.addService(ECHO, echoHandlers('plain'));
  await plain.start();
  const plaintextClient = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${secure.port}`], transparentRetries: 0, timeoutMs: 3000 });
  const tlsClient = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${plain.port}`], tcp: { tls: { ca: certs.ca } }, transparentRetries: 0 });
  t.teardown(async () => { await plaintextClient.close(); await tlsClient.close(); await secure.close(); await plain.close(); });
  const e1 = (await plaintextClient.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(e1.code, Code.UNAVAILABLE);
  t.match(e1.message, /TLS/, `client side: ${e1.message}`);
  t.ok(tlsErrors.some((e) => /not speaking TLS/.test(e)), `server side: ${tlsErrors.join(' | ')}`);
  const e2 = (await tlsClient.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(e2.code, Code.UNAVAILABLE);
  t.match(e2.message, /TLS handshake failed/, `client side: ${e2.message}`);
  t.ok(plainErrors.some((e) => /TLS client connected to a plaintext port/.test(e)), `server side: ${plainErrors.join(' | ')}`);
});

t.test('a server certificate from an untrusted CA is refused by the client', async (t) => {
  const server = await tlsServer(false, []);
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`], tcp: { tls: { ca: certs.strangerCa } }, transparentRetries: 0 });
  t.teardown(async () => { await client.close(); await server.close(); });
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  t.match(error.message, /certificate/i);
});
