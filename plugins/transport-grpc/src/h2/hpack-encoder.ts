import { STATIC_TABLE } from './hpack-static-table.js';

/** Header fields as the engine's users give them (node:http2's shape): a value or a list of values. */
export type OutgoingHeaders = Readonly<Record<string, string | readonly string[]>>;

/** name → its first static-table index; "name\0value" → the index of the exact pair. */
const STATIC_NAMES = new Map<string, number>();
const STATIC_PAIRS = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!STATIC_NAMES.has(name)) STATIC_NAMES.set(name, i + 1);
  STATIC_PAIRS.set(`${name}\0${value}`, i + 1);
});

/**
 * The response side's HPACK encoder: static-table indexes where the pair or the name is there, every
 * other field a literal without indexing (§6.2.2) and without Huffman. It never touches the
 * dynamic table, so the peer's SETTINGS_HEADER_TABLE_SIZE never matters, and a block depends on its
 * headers alone: frozen header objects (the engine's constant ones) are encoded once and cached.
 */
export class HpackEncoder {
  private readonly cache = new WeakMap<object, Buffer>();

  encode(headers: OutgoingHeaders): Buffer {
    const frozen = Object.isFrozen(headers);
    if (frozen) {
      const cached = this.cache.get(headers);
      if (cached !== undefined) return cached;
    }
    const parts: number[] = [];
    for (const name in headers) {
      const raw = headers[name];
      if (raw === undefined) continue;
      if (typeof raw === 'string') encodeField(parts, name, raw);
      else for (const value of raw) encodeField(parts, name, value);
    }
    const block = Buffer.from(parts);
    if (frozen) this.cache.set(headers, block);
    return block;
  }
}

function encodeField(parts: number[], name: string, value: string): void {
  const pair = STATIC_PAIRS.get(`${name}\0${value}`);
  if (pair !== undefined) {
    writeInteger(parts, 0x80, 7, pair);
    return;
  }
  const nameIndex = STATIC_NAMES.get(name);
  if (nameIndex !== undefined) {
    writeInteger(parts, 0x00, 4, nameIndex);
  } else {
    parts.push(0x00);
    writeString(parts, name);
  }
  writeString(parts, value);
}

function writeInteger(parts: number[], pattern: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    parts.push(pattern | value);
    return;
  }
  parts.push(pattern | max);
  value -= max;
  while (value >= 0x80) {
    parts.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  parts.push(value);
}

function writeString(parts: number[], text: string): void {
  writeInteger(parts, 0x00, 7, text.length);
  for (let i = 0; i < text.length; i++) parts.push(text.charCodeAt(i) & 0xff);
}
