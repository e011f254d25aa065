import { createInterface } from 'node:readline';
import { readData } from './json-input.js';

export interface InputLine {
  readonly text: string;
  /** 1-based, for error messages. */
  readonly line: number;
}

export interface RequestLines {
  /** `stdin`, the file name, or `-d`. */
  readonly source: string;
  /** Non-empty lines, each one request message as JSON. */
  readonly lines: AsyncIterable<InputLine>;
  /**
   * True when every line is already in memory (`-d '…'`, `-d @file`): the caller checks them all
   * before the call starts. stdin is read as it arrives, so a bidi stream can be driven line by line.
   */
  readonly complete: boolean;
}

/**
 * The requests of a client- or bidi-streaming call: JSON lines (one message per line, blank lines
 * skipped) from `-d '…'`, `-d @file` or `-d -` (stdin).
 */
export async function readRequestLines(value: string, stdin: NodeJS.ReadableStream & { isTTY?: boolean }, note: (text: string) => void): Promise<RequestLines> {
  if (value === '-') {
    // A terminal is fine here: a bidi stream can be driven by typing, each line sent on Enter.
    if (stdin.isTTY) note('reading request messages from the terminal, one JSON per line; Ctrl-D ends the stream');
    // readline emits lines as soon as stdin has them, and its async iterator only buffers from the
    // moment it is created: created here, not when the call pulls its first request (after the
    // registry lookup), or piped lines would be lost and the stream would wait forever.
    const iterator = createInterface({ input: stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
    return { source: 'stdin', lines: nonEmpty({ [Symbol.asyncIterator]: () => iterator }), complete: false };
  }
  const { text, source } = await readData(value, stdin);
  return { source, lines: nonEmpty(text.split(/\r?\n/)), complete: true };
}

async function* nonEmpty(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<InputLine> {
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() !== '') yield { text, line };
  }
}
