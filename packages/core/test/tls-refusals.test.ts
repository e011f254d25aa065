import { createServer as createTlsServer } from 'node:tls';
import t from 'tap';
import { Code, RpcClient, RpcServer, type RpcError } from '../src/index.js';
import type { PeerInfo } from '../src/spi.js';
import { makeCertificates } from './fixtures/certificates.js';
import { ECHO, echoHandlers } from './fixtures/json-service.js';

const certs = makeCertificates();

t.test('mutual TLS refusals are explained on both sides, and the calls never ran', async (t) => {
  const reports: { peer: PeerInfo; message: string }[] = [];
  const server = new RpcServer({
    host: '127.0.0.1',
    tcp: {
      tls: { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
      onProtocolError: (peer, message) => reports.push({ peer, message }),
    },
  });
  const stats = { calls: 0, aborted: [] };
  server.addService(ECHO, echoHandlers('tls', stats));
  await server.start();
  const address = `127.0.0.1:${server.port}`;
  const noCert = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca } }, transparentRetries: 0 });
  const stranger = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey } }, transparentRetries: 0 });
  t.teardown(async () => { await noCert.close(); await stranger.close(); await server.close(); });

  const e1 = (await noCert.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(e1.code, Code.UNAVAILABLE);
  t.equal(e1.mayHaveRun, false, 'refused before the call was written');
  t.match(e1.message, /certificate not accepted by the server: it presented no certificate and mutual TLS requires one/);

  const e2 = (await stranger.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(e2.code, Code.UNAVAILABLE);
  t.equal(e2.mayHaveRun, false);
  t.match(e2.message, /certificate not accepted by the server: its certificate is not accepted \([A-Z_]+\)/);

  t.equal(stats.calls, 0);
  // (each client's pool redials in the background after a failed dial: more reports may follow)
  t.ok(reports.length >= 2, 'the server reported both');
  for (const report of reports) {
    t.equal(report.peer.host, '127.0.0.1', 'with the peer address');
    t.ok(report.peer.port > 0);
  }
  t.match(reports.map((r) => r.message).join('\n'), /TLS handshake failed: client refused, its certificate is not accepted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT[A-Z_]*)\)/, 'with the authorizationError');
});

t.test('a plain TLS server that rejects the client certificate itself: the client still says what happened', async (t) => {
  // Not a Trellis server: OpenSSL refuses the certificate during the handshake (a TLS alert).
  const plain = createTlsServer({ key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (s) => s.end());
  plain.on('tlsClientError', () => {});
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  t.teardown(() => plain.close());
  const address = `127.0.0.1:${(plain.address() as { port: number }).port}`;
  const stranger = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey } }, transparentRetries: 0 });
  const noCert = new RpcClient({ service: ECHO, addresses: [address], tcp: { tls: { ca: certs.ca } }, transparentRetries: 0 });
  t.teardown(async () => { await stranger.close(); await noCert.close(); });
  const e1 = (await stranger.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(e1.mayHaveRun, false);
  t.match(e1.message, /certificate not accepted by the server/);
  const e2 = (await noCert.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(e2.mayHaveRun, false);
  t.match(e2.message, /certificate not accepted by the server/);
});
