/**
 * TLS failures in words a user can act on. OpenSSL reports them as codes and alert names; which side
 * refused what is the useful part.
 */
const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The client's view: its error event, before or after its side of the handshake completed. */
export function describeTlsFailure(error: NodeJS.ErrnoException, afterHandshake: boolean): string {
  const code = error.code ?? '';
  const message = error.message;
  if (/CERTIFICATE_REQUIRED/.test(code) || /certificate required/i.test(message)) {
    return `certificate not accepted by the server: it requires a client certificate (mutual TLS) and none was sent; set tcp.tls.cert and tcp.tls.key (${code || message})`;
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)/.test(code)) {
    return `certificate not accepted by the server (${code}): the client certificate is not signed by a CA the server trusts, or is expired`;
  }
  if (UNTRUSTED_SERVER.has(code)) {
    return `TLS handshake failed: the server's certificate is not trusted (${code}: ${message}); check tcp.tls.ca and the server name`;
  }
  if (!afterHandshake) return `TLS handshake failed: ${message}; check tcp.tls on both sides`;
  return `TLS connection failed: ${code ? `${code}: ` : ''}${message}`;
}

/** The server's view of a handshake that failed (tlsClientError). */
export function describeTlsHandshakeError(error: NodeJS.ErrnoException): string {
  if (error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|http request/i.test(error.message)) {
    return `${error.message} (the client is not speaking TLS: configure tcp.tls on the client)`;
  }
  return error.code ? `${error.code}: ${error.message}` : error.message;
}
