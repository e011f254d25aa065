import { usage } from './cli-error.js';
import type { HostPort } from './health/checks.js';

const HOST_PORT = /^(\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/;

/** `host:port` / `[v6]:port`, or undefined when the text is not an address (then it names a service). */
export function parseHostPort(text: string): HostPort | undefined {
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const port = Number(match[4]);
  if (port < 1 || port > 65535) throw usage(`"${text}": port ${port} is out of range`);
  return { host: match[2] ?? match[3]!, port };
}

const SERVICE = /^[A-Za-z0-9_.-]+$/;

/** A service name as the registry keys it, or a usage error. */
export function checkServiceName(name: string): string {
  if (!SERVICE.test(name)) throw usage(`"${name}" is neither host:port nor a service name`, 'service names are fully qualified, like demo.Greeter');
  return name;
}

/** What `call` and `describe` are pointed at: an address (`grpc://` / `grpcs://` pin the protocol) or a service name. */
export type Target =
  | { readonly kind: 'address'; readonly address: HostPort; readonly scheme: 'grpc' | 'grpcs' | undefined; readonly text: string }
  | { readonly kind: 'service'; readonly name: string };

const SCHEME = /^(grpcs?):\/\/(.*?)\/?$/;

/** `grpc://host:port`, `grpcs://host:port`, `host:port`, or a service name (anything else is a usage error). */
export function parseTarget(text: string): Target {
  const scheme = SCHEME.exec(text);
  if (scheme !== null) {
    const address = parseHostPort(scheme[2]!);
    if (address === undefined) throw usage(`"${text}" is not ${scheme[1]}://host:port`);
    return { kind: 'address', address, scheme: scheme[1] as 'grpc' | 'grpcs', text };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw usage(`"${text}": unknown scheme`, 'targets are host:port, grpc://host:port, grpcs://host:port or a service name');
  }
  const address = parseHostPort(text);
  return address !== undefined ? { kind: 'address', address, scheme: undefined, text } : { kind: 'service', name: checkServiceName(text) };
}

/** Whether text names an address rather than a service or symbol (describe's optional first argument). */
export function looksLikeAddress(text: string): boolean {
  return SCHEME.test(text) || HOST_PORT.test(text);
}

/** `grpc://host:port` (or grpcs://) for the gRPC client, and `host:port` for messages. */
export function grpcUrl(address: HostPort, tls: boolean): { url: string; display: string } {
  const authority = address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
  return { url: `${tls ? 'grpcs' : 'grpc'}://${authority}`, display: authority };
}
