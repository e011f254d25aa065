import { constants, deflate, deflateSync, gunzip, gunzipSync, gzip, gzipSync, inflate, inflateSync, type ZlibOptions } from 'node:zlib';
import { Code } from '@trellis/core';

/** The message encodings this engine speaks (`grpc-encoding`), in the order it advertises them. */
export const SUPPORTED_ENCODINGS = ['identity', 'deflate', 'gzip'] as const;
export type Encoding = (typeof SUPPORTED_ENCODINGS)[number];
export const ACCEPT_ENCODING = SUPPORTED_ENCODINGS.join(',');

export function isEncoding(name: string): name is Encoding {
  return name === 'identity' || name === 'gzip' || name === 'deflate';
}

/** Whether a `grpc-accept-encoding` list names the encoding. */
export function accepts(acceptHeader: string | undefined, encoding: Encoding): boolean {
  if (encoding === 'identity') return true;
  if (acceptHeader === undefined) return false;
  return acceptHeader.split(',').some((name) => name.trim() === encoding);
}

// Below this size zlib's synchronous call is cheaper than a hop to the thread pool and back.
const SYNC_LIMIT = 32 * 1024;

export class CompressionError extends Error {
  constructor(readonly code: Code, message: string) {
    super(message);
  }
}

export function compress(encoding: Encoding, message: Uint8Array): Buffer | Promise<Buffer> {
  if (message.length < SYNC_LIMIT) return encoding === 'gzip' ? gzipSync(message) : deflateSync(message);
  return new Promise((resolve, reject) => (encoding === 'gzip' ? gzip : deflate)(message, (error, out) => (error ? reject(error) : resolve(out))));
}

/**
 * Decompresses one message. The output is capped at `maxLength` (zlib's maxOutputLength), so a small
 * compressed bomb is refused with RESOURCE_EXHAUSTED before it can take the memory it announces.
 */
export function decompress(encoding: Encoding, message: Buffer, maxLength: number): Promise<Buffer> {
  const options: ZlibOptions = { maxOutputLength: Math.max(1, maxLength) };
  const failed = (error: NodeJS.ErrnoException) =>
    error.code === 'ERR_BUFFER_TOO_LARGE'
      ? new CompressionError(Code.RESOURCE_EXHAUSTED, `a ${encoding} message decompresses to more than the limit of ${maxLength} bytes`)
      : new CompressionError(Code.INTERNAL, `a ${encoding} message could not be decompressed: ${error.message}`);
  if (message.length < SYNC_LIMIT / 8) {
    try {
      return Promise.resolve(encoding === 'gzip' ? gunzipSync(message, options) : inflateSync(message, options));
    } catch (error) {
      return Promise.reject(failed(error as NodeJS.ErrnoException));
    }
  }
  return new Promise((resolve, reject) =>
    (encoding === 'gzip' ? gunzip : inflate)(message, options, (error, out) => (error ? reject(failed(error)) : resolve(out))),
  );
}

export const Z_CONSTANTS = constants;
