/**
 * Real X.509 certificates for TLS tests, made with the openssl command line for this test run
 * (scripts/ensure-registries.sh installs openssl where it is missing). One place for what the TLS
 * tests of the kernel, the gRPC transport, the CLI and auth each need: a CA, a server certificate
 * valid for 127.0.0.1 and localhost, client certificates for mutual TLS, and a stranger — a second CA
 * nobody trusts and a client certificate it signed — for the refusals.
 *
 * Keys are P-256 EC keys: every TLS stack the tests talk to (node:tls, node:http2, grpc-js, grpcio)
 * takes them, and openssl makes one in a millisecond where an RSA-2048 key takes tens to hundreds on
 * a loaded machine. Certificates are valid for two days.
 *
 * This module imports nothing but node: built-ins, so a package that @trellis/testkit itself depends
 * on (the kernel's own tests) can load it by path without a dependency cycle.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private key and the certificate for it, PEM. */
export interface TestKeyPair {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export interface TestCertificatesOptions {
  /** Common names of the client certificates to issue from the CA (mutual TLS); none by default. */
  readonly clients?: readonly string[];
  /** Also make `stranger`: a second CA and a client certificate (CN `mallory`) it signed. */
  readonly stranger?: boolean;
}

export interface TestCertificates<Client extends string = string> {
  /** The CA's certificate, PEM: what a client (or an mTLS server) trusts. */
  readonly ca: Buffer;
  /** The server's key and certificate (CN localhost, subjectAltName IP:127.0.0.1 and DNS:localhost). */
  readonly serverKey: Buffer;
  readonly serverCert: Buffer;
  /** Client certificates signed by `ca`, by common name. */
  readonly clients: Readonly<Record<Client, TestKeyPair>>;
  /** With `stranger: true`: a CA trusted by nobody here, and a client certificate it signed. */
  readonly stranger: (TestKeyPair & { readonly ca: Buffer }) | undefined;
}

/**
 * Makes a CA, a server certificate for 127.0.0.1 / localhost and the requested client certificates,
 * synchronously (a test module can make them at its top). Nothing stays on disk.
 */
export function makeTestCertificates<Client extends string = never>(
  options: TestCertificatesOptions & { readonly clients?: readonly Client[] } = {},
): TestCertificates<Client> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-certs-'));
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (file: string): Buffer => readFileSync(join(dir, file));
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const authority = (name: string): void => run('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
  const issue = (file: string, commonName: string, ca: string, extensions: string): TestKeyPair => {
    writeFileSync(join(dir, `${file}.ext`), extensions);
    run('req', ...newKey, '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${commonName}`);
    run('x509', '-req', '-in', `${file}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${file}.crt`, '-days', '2', '-extfile', `${file}.ext`);
    return { key: read(`${file}.key`), cert: read(`${file}.crt`) };
  };
  try {
    authority('trellis-test-ca');
    const server = issue('server', 'localhost', 'trellis-test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    const clients: Record<string, TestKeyPair> = {};
    (options.clients ?? []).forEach((name, i) => {
      clients[name] = issue(`client-${i}`, name, 'trellis-test-ca', 'extendedKeyUsage=clientAuth\n');
    });
    let stranger: TestCertificates['stranger'];
    if (options.stranger) {
      authority('stranger-ca');
      stranger = { ca: read('stranger-ca.crt'), ...issue('stranger', 'mallory', 'stranger-ca', 'extendedKeyUsage=clientAuth\n') };
    }
    return { ca: read('trellis-test-ca.crt'), serverKey: server.key, serverCert: server.cert, clients: clients as Record<Client, TestKeyPair>, stranger };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
