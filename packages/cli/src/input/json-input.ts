import { readFile } from 'node:fs/promises';
import { usage } from '../cli-error.js';

/**
 * Reads `-d`: the JSON itself, `@file` for a file, `-` for stdin (curl's and grpcurl's forms).
 * Returns the text and where it came from, for error messages.
 */
export async function readData(value: string, stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<{ text: string; source: string }> {
  if (value === '-') {
    if (stdin.isTTY) throw usage('-d - reads the request from stdin, but stdin is a terminal', 'pipe the JSON in, or give it as -d \'{…}\' or -d @file.json');
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return { text: Buffer.concat(chunks).toString('utf8'), source: 'stdin' };
  }
  if (value.startsWith('@')) {
    const path = value.slice(1);
    try {
      return { text: await readFile(path, 'utf8'), source: path };
    } catch (error) {
      throw usage(`cannot read the request file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return { text: value, source: '-d' };
}

/**
 * JSON.parse with an error that points at the problem: line, column and the line itself with a
 * caret, from the position V8 reports (or the end of the text when it ran out).
 */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = jsonErrorPosition(message, text);
    const { line, column, excerpt } = locate(text, position);
    const detail = message.replace(/^Unexpected/, 'unexpected').replace(/ in JSON at position \d+.*$/s, '').replace(/ at position \d+.*$/s, '');
    throw usage(
      `the request in ${source} is not valid JSON: ${detail} at line ${line}, column ${column}\n${excerpt}`,
      'JSON needs double-quoted keys and strings, and no trailing commas',
      { line, column, position },
    );
  }
}

function jsonErrorPosition(message: string, text: string): number {
  const at = /position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  // "Unexpected end of JSON input" and similar: the problem is where the text stops.
  return text.length;
}

function locate(text: string, position: number): { line: number; column: number; excerpt: string } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', lineStart);
  const content = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  const column = position - lineStart + 1;
  // Long one-line requests: show 60 characters around the position.
  const from = Math.max(0, column - 1 - 40);
  const shown = content.slice(from, from + 80);
  const excerpt = `  ${from > 0 ? '…' : ''}${shown}\n  ${' '.repeat(column - 1 - from + (from > 0 ? 1 : 0))}^`;
  return { line, column, excerpt };
}
