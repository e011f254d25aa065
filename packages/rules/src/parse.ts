import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { RuleIssue } from './errors.js';

/** Larger documents are refused before parsing: rules are small, and parsing is work on the consumer. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

export type ParseResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issue: RuleIssue };

/**
 * Parses a rule document written in JSON or YAML. JSON is tried first when the text looks like it
 * (its errors point at the right character); everything else is YAML 1.2, which also reads JSON.
 * YAML is read defensively: duplicate keys are errors and alias expansion is capped (a "billion
 * laughs" document from a shared registry must not exhaust the consumer).
 */
export function parseRuleText(text: string): ParseResult {
  if (Buffer.byteLength(text, 'utf8') > MAX_DOCUMENT_BYTES) {
    return { ok: false, issue: { field: '', message: `is larger than ${MAX_DOCUMENT_BYTES} bytes` } };
  }
  const trimmed = text.trimStart();
  if (trimmed === '') return { ok: false, issue: { field: '', message: 'is empty' } };
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return { ok: false, issue: { field: '', message: `is not valid JSON: ${(error as Error).message}` } };
    }
  }
  try {
    const value: unknown = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: true, strict: true });
    return { ok: true, value };
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      const where = at ? ` at line ${at.line}, column ${at.col}` : '';
      return { ok: false, issue: { field: '', message: `is not valid YAML${where}: ${firstLine(error.message)}` } };
    }
    return { ok: false, issue: { field: '', message: `is not valid YAML: ${firstLine((error as Error).message)}` } };
  }
}

/** Reads a document file (JSON or YAML by content, not by extension). Throws on I/O errors. */
export function readRuleFile(path: string): string {
  return readFileSync(path, 'utf8');
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}
