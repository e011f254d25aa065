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
