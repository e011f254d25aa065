/**
 * Owned copies of received stream messages, several messages to one copy. A message handed to the
 * inbox must not be a view of the socket read it arrived in: held by a slow consumer (or kept by the
 * application, or by a `bytes` field decoded as a view of it), it would pin the whole read — up to
 * 64 KiB. Copying each message on its own (`Buffer.allocUnsafe` + `copy`) was ≈ 10 % of the stream
 * bench's client CPU; here one copy takes the next `GROUP_BYTES` of the read at once, and the
 * messages that lie inside it are views of that copy. A held message so pins at most `GROUP_BYTES`
 * (or its own size, when larger): what `Buffer.allocUnsafe` gave before, a slice of an 8 KiB pool.
 *
 * One per connection; `release()` after each read, so the copier never keeps a read alive.
 */
export const GROUP_BYTES = 8 * 1024;

const EMPTY = Buffer.alloc(0);

export class MessageCopier {
  /** The read the current copy was taken from (undefined once released). */
  private source: Buffer | undefined;
  private copy: Buffer = EMPTY;
  /** `copy` holds `source[from, to)`. */
  private from = 0;
  private to = 0;

  /** `buf[start, end)` as a buffer of its own (a view of a copy of at most GROUP_BYTES, or of its size). */
  take(buf: Buffer, start: number, end: number): Buffer {
    if (buf !== this.source || start < this.from || end > this.to) {
      const to = Math.max(end, Math.min(buf.length, start + GROUP_BYTES));
      const copy = Buffer.allocUnsafeSlow(to - start);
      buf.copy(copy, 0, start, to);
      this.source = buf;
      this.copy = copy;
      this.from = start;
      this.to = to;
    }
    return this.copy.subarray(start - this.from, end - this.from);
  }

  /** The read was handled: forget it and the copy (the messages keep what they need). */
  release(): void {
    this.source = undefined;
    this.copy = EMPTY;
    this.from = this.to = 0;
  }
}
