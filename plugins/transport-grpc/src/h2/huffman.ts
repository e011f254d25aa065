import { HUFFMAN_CODES } from './huffman-table.js';

/**
 * HPACK Huffman decoding (RFC 7541 §5.2) as a 4-bit state machine built once from the code table:
 * a state is an inner node of the code tree, each nibble moves it and emits at most one symbol (the
 * shortest code has 5 bits). Per entry: next state (bits 0–7), symbol + 1 (bits 8–16, 0 = none),
 * FAIL (EOS decoded, which the RFC makes an error). A state accepts as an end when it is the root or
 * a run of at most 7 one-bits from it (the padding rule).
 */
const FAIL = 1 << 20;
const TRANSITIONS = new Int32Array(256 * 16);
const ACCEPTS = new Uint8Array(256);

(function build() {
  // Tree: children[2n], children[2n+1] = child node id, or -(symbol + 1) for a leaf.
  const children: number[] = [0, 0];
  let nodes = 1;
  for (let symbol = 0; symbol <= 256; symbol++) {
    const code = HUFFMAN_CODES[symbol * 2]!;
    const length = HUFFMAN_CODES[symbol * 2 + 1]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = node * 2 + ((code >>> bit) & 1);
      if (bit === 0) {
        children[slot] = -(symbol + 1);
      } else {
        if (!children[slot]) {
          children[slot] = nodes++;
          children.push(0, 0);
        }
        node = children[slot]!;
      }
    }
  }
  // Depth and all-ones-ness of each inner node, for the padding rule.
  const depth = new Uint8Array(nodes);
  const ones = new Uint8Array(nodes);
  ones[0] = 1;
  for (let node = 0; node < nodes; node++) {
    for (let bit = 0; bit < 2; bit++) {
      const child = children[node * 2 + bit]!;
      if (child > 0) {
        depth[child] = depth[node]! + 1;
        ones[child] = ones[node]! & bit;
      }
    }
  }
  for (let node = 0; node < nodes; node++) ACCEPTS[node] = node === 0 || (ones[node] === 1 && depth[node]! <= 7) ? 1 : 0;
  for (let state = 0; state < nodes; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let emitted = 0;
      let fail = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)]!;
        if (child < 0) {
          const symbol = -child - 1;
          if (symbol === 256) fail = FAIL;
          emitted = symbol + 1;
          node = 0;
        } else {
          node = child;
        }
      }
      TRANSITIONS[(state << 4) | nibble] = node | (emitted << 8) | fail;
    }
  }
})();

let scratch = Buffer.allocUnsafe(4096);

/** Decodes `length` Huffman-coded bytes at `offset` to a latin1 string; undefined when the coding is invalid. */
export function huffmanDecode(source: Buffer, offset: number, length: number): string | undefined {
  // At most 8 symbols per 5 bits: the output is shorter than 8/5 of the input.
  const most = ((length * 8) / 5) | 0;
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, scratch.length * 2));
  const out = scratch;
  let written = 0;
  let state = 0;
  const end = offset + length;
  for (let i = offset; i < end; i++) {
    const byte = source[i]!;
    let t = TRANSITIONS[(state << 4) | (byte >>> 4)]!;
    if (t & FAIL) return undefined;
    if (t & 0x1ff00) out[written++] = ((t >>> 8) & 0x1ff) - 1;
    state = t & 0xff;
    t = TRANSITIONS[(state << 4) | (byte & 0xf)]!;
    if (t & FAIL) return undefined;
    if (t & 0x1ff00) out[written++] = ((t >>> 8) & 0x1ff) - 1;
    state = t & 0xff;
  }
  if (ACCEPTS[state] !== 1) return undefined;
  return out.toString('latin1', 0, written);
}

/** Huffman-encodes a latin1 string (for tests and the encoder's choice of the shorter form). */
export function huffmanEncode(text: string): Buffer {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    const code = HUFFMAN_CODES[symbol * 2]!;
    let length = HUFFMAN_CODES[symbol * 2 + 1]!;
    while (length > 0) {
      const take = Math.min(length, 8 - bits);
      acc = (acc << take) | ((code >>> (length - take)) & ((1 << take) - 1));
      bits += take;
      length -= take;
      if (bits === 8) {
        bytes.push(acc & 0xff);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) bytes.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Buffer.from(bytes);
}
