import { createInterface } from 'node:readline';
import { readData } from './json-input.js';
import { usage } from '../cli-error.js';

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
export async function readRequestLines(value: string, stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<RequestLines> {
  if (value === '-') {
    if (stdin.isTTY) throw usage('-d - reads the requests from stdin, but stdin is a terminal', 'pipe JSON lines in (one message per line), or use -d @file.jsonl');
    return { source: 'stdin', lines: nonEmpty(createInterface({ input: stdin, crlfDelay: Infinity })), complete: false };
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
