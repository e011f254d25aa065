import { isIP } from 'node:net';

/** An IP as a number: IPv4 in 32 bits, IPv6 in 128. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) counts as IPv4. */
export interface ParsedIp {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** One entry of an address list: a CIDR block (an exact IP is /32 or /128), optionally with a port. */
export interface AddressPattern {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
  readonly port?: number;
  readonly text: string;
}

/** Parses an IPv4 or IPv6 literal (a zone id like `%eth0` is ignored); undefined for anything else. */
export function parseIp(text: string): ParsedIp | undefined {
  const host = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const family = isIP(host);
  if (family === 4) return { family: 4, value: v4(host) };
  if (family !== 6) return undefined;
  const value = v6(host);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

function v4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6(text: string): bigint {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = v4(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right ? right.split(':') : [];
  const groups = right === undefined
    ? leftGroups
    : [...leftGroups, ...Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/**
 * Parses `10.0.0.0/8`, `10.1.2.3`, `10.1.2.3:8080`, `fd00::/8`, `::1`, `[::1]:8080`. Returns a message
 * saying what is wrong instead of a pattern for anything else (hostnames included: rules name
 * addresses, and a name could resolve to anything).
 */
export function parseAddressPattern(text: string): AddressPattern | string {
  const expected = 'expected an IP address, a CIDR block (10.0.0.0/8, fd00::/8) or an address with a port (10.0.0.5:8080, [::1]:8080)';
  let host = text.trim();
  let port: number | undefined;
  let prefix: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (/^[\d.]+:\d+$/.test(host)) {
    const at = host.lastIndexOf(':');
    port = Number(host.slice(at + 1));
    host = host.slice(0, at);
  }
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const bits = host.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits)) return `${expected}; the prefix length in ${JSON.stringify(text)} is not a number`;
    prefix = Number(bits);
    host = host.slice(0, slash);
  }
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${port} in ${JSON.stringify(text)} is not in 1..65535`;
  if (port !== undefined && prefix !== undefined) return `${JSON.stringify(text)} has both a prefix length and a port; use one`;
  const family = isIP(host);
  if (family === 0) return `${expected}, got ${JSON.stringify(text)}`;
  const max = family === 4 ? 32 : 128;
  if (prefix !== undefined && prefix > max) return `prefix length /${prefix} is longer than an IPv${family} address (${max} bits)`;
  const ip = parseIp(host)!;
  // An IPv4-mapped IPv6 block is an IPv4 block: its prefix loses the 96 mapping bits.
  let bitsUsed = prefix ?? max;
  if (family === 6 && ip.family === 4) bitsUsed = Math.max(0, bitsUsed - 96);
  const width = ip.family === 4 ? 32 : 128;
  const base = bitsUsed === 0 ? 0n : (ip.value >> BigInt(width - bitsUsed)) << BigInt(width - bitsUsed);
  if (base !== ip.value) return `${JSON.stringify(text)} has host bits set; the block is ${format(ip.family, base)}/${bitsUsed}`;
  return { family: ip.family, base, prefix: bitsUsed, port, text };
}

function format(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

/** A list of patterns; `has` is called per endpoint when a list is narrowed, not per call. */
export class AddressSet {
  constructor(readonly patterns: readonly AddressPattern[]) {}

  static parse(texts: readonly string[]): AddressSet {
    return new AddressSet(texts.map((text) => {
      const pattern = parseAddressPattern(text);
      if (typeof pattern === 'string') throw new Error(pattern);
      return pattern;
    }));
  }

  has(host: string, port?: number): boolean {
    const ip = parseIp(host);
    if (ip === undefined) return false;
    for (const p of this.patterns) {
      if (p.family !== ip.family) continue;
      if (p.port !== undefined && p.port !== port) continue;
      const width = p.family === 4 ? 32 : 128;
      const shift = BigInt(width - p.prefix);
      if (p.prefix === 0 || ip.value >> shift === p.base >> shift) return true;
    }
    return false;
  }

  toString(): string {
    return this.patterns.map((p) => p.text).join(', ');
  }
}
