import { huffmanDecode } from './huffman.js';
import { STATIC_TABLE } from './hpack-static-table.js';

/** A header block that is not valid HPACK: a connection error (COMPRESSION_ERROR, RFC 9113 §4.3). */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}

const ENTRY_OVERHEAD = 32;

/**
 * The HPACK decoder of one connection (RFC 7541): static table, dynamic table with size updates,
 * Huffman strings. Output is a flat list [name, value, name, value, …] in block order; the caller
 * applies HTTP rules. The header list size (RFC 9113 §6.5.2) is computed while decoding; a block over
 * the limit is still decoded in full, because the dynamic table must stay in step with the encoder.
 */
export class HpackDecoder {
  /** Newest entry last. */
  private entries: string[] = [];
  private size = 0;
  private maxSize: number;
  /** Bytes of the last block's header list (names + values + 32 each). */
  listSize = 0;
  /**
   * Changes whenever the dynamic table does: a block that decoded without changing it decodes the
   * same way while it stays the same (what lets the connection cache decoded blocks).
   */
  generation = 0;

  constructor(private readonly settingsMaxSize = 4096) {
    this.maxSize = settingsMaxSize;
  }

  decode(block: Buffer, out: string[]): void {
    let offset = 0;
    const end = block.length;
    let listSize = 0;
    let first = true;
    while (offset < end) {
      const byte = block[offset]!;
      let name: string;
      let value: string;
      if (byte & 0x80) {
        // Indexed header field (§6.1).
        const [index, next] = readInteger(block, offset, 7);
        offset = next;
        const entry = this.lookup(index);
        name = entry[0];
        value = entry[1];
      } else if ((byte & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only at the start of a block.
        if (!first) throw new HpackError('a dynamic table size update after the first header field');
        const [size, next] = readInteger(block, offset, 5);
        offset = next;
        if (size > this.settingsMaxSize) throw new HpackError(`dynamic table size ${size} exceeds the announced ${this.settingsMaxSize}`);
        this.maxSize = size;
        this.generation++;
        this.evict(0);
        continue;
      } else {
        // Literal with incremental indexing (§6.2.1, prefix 6), without indexing / never indexed (prefix 4).
        const indexing = (byte & 0xc0) === 0x40;
        const [index, afterIndex] = readInteger(block, offset, indexing ? 6 : 4);
        offset = afterIndex;
        if (index === 0) {
          const [literal, afterName] = readString(block, offset);
          name = literal;
          offset = afterName;
        } else {
          name = this.lookup(index)[0];
        }
        const [literal, afterValue] = readString(block, offset);
        value = literal;
        offset = afterValue;
        if (indexing) this.insert(name, value);
      }
      first = false;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      out.push(name, value);
    }
    this.listSize = listSize;
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('header index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const position = this.entries.length - 2 * (index - STATIC_TABLE.length);
    if (position < 0) throw new HpackError(`header index ${index} is beyond the dynamic table`);
    return [this.entries[position]!, this.entries[position + 1]!];
  }

  private insert(name: string, value: string): void {
    this.generation++;
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.maxSize) {
      // An entry larger than the table empties it and is not added (§4.4).
      this.entries = [];
      this.size = 0;
      return;
    }
    this.evict(size);
    this.entries.push(name, value);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    let drop = 0;
    while (this.size + room > this.maxSize && drop < this.entries.length) {
      this.size -= this.entries[drop]!.length + this.entries[drop + 1]!.length + ENTRY_OVERHEAD;
      drop += 2;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}

const integerResult: [number, number] = [0, 0];

/** An HPACK integer (§5.1) with an N-bit prefix at `offset`: [value, offset after it]. Values above 2^28 are refused. */
function readInteger(block: Buffer, offset: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = block[offset]! & max;
  offset++;
  if (value === max) {
    let shift = 0;
    for (;;) {
      if (offset >= block.length) throw new HpackError('a truncated integer');
      const byte = block[offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
      if (shift > 28) throw new HpackError('an integer too large');
    }
  }
  integerResult[0] = value;
  integerResult[1] = offset;
  return integerResult;
}

const stringResult: [string, number] = ['', 0];

/** An HPACK string literal (§5.2): [text (latin1), offset after it]. */
function readString(block: Buffer, offset: number): [string, number] {
  if (offset >= block.length) throw new HpackError('a truncated string');
  const huffman = (block[offset]! & 0x80) !== 0;
  const [length, start] = readInteger(block, offset, 7);
  const end = start + length;
  if (end > block.length) throw new HpackError('a string longer than its header block');
  let text: string | undefined;
  if (huffman) {
    text = huffmanDecode(block, start, length);
    if (text === undefined) throw new HpackError('an invalid Huffman string');
  } else {
    text = block.toString('latin1', start, end);
  }
  stringResult[0] = text;
  stringResult[1] = end;
  return stringResult;
}
