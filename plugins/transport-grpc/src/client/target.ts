import { invalidOption } from '@trellis/core';

/** One gRPC server address. `tls` true = `grpcs://` (TLS with ALPN h2), false = h2c. */
export interface GrpcTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/**
 * `host:port`, `[::1]:port`, `grpc://host:port` (cleartext) or `grpcs://host:port` (TLS). A bare
 * address is cleartext unless `defaultTls` says otherwise. Throws ERR_INVALID_OPTION when malformed.
 */
export function parseGrpcTarget(address: string, defaultTls = false): GrpcTarget {
  let rest = address;
  let tls = defaultTls;
  const scheme = /^([a-z]+):\/\//.exec(address);
  if (scheme) {
    if (scheme[1] === 'grpc') tls = false;
    else if (scheme[1] === 'grpcs') tls = true;
    else throw invalidOption('target', address, 'grpc://host:port, grpcs://host:port or host:port');
    rest = address.slice(scheme[0].length).replace(/\/$/, '');
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(rest);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port > 0 && port <= 65535)) throw invalidOption('target', address, 'grpc://host:port, grpcs://host:port or host:port');
  return { host: match[1] ?? match[2]!, port, tls };
}

export function authorityOf(target: { host: string; port: number }): string {
  return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

export function targetKey(target: GrpcTarget): string {
  return `${target.tls ? 'grpcs' : 'grpc'}://${authorityOf(target)}`;
}
