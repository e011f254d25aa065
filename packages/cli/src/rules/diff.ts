import { createTwoFilesPatch } from 'diff';
import type { Colors } from 'picocolors/types';

/** A unified diff from the registry's text to the new one; '' when they are the same. */
export function documentDiff(oldText: string | undefined, newText: string | undefined, oldLabel: string, newLabel: string): string {
  const a = withNewline(oldText ?? '');
  const b = withNewline(newText ?? '');
  if (a === b) return '';
  const patch = createTwoFilesPatch(oldText === undefined ? '/dev/null' : oldLabel, newText === undefined ? '/dev/null' : newLabel, a, b, undefined, undefined, { context: 3 });
  // jsdiff starts with an "Index:"-less "===" line; the two header lines and the hunks are what matters.
  return patch.split('\n').filter((line) => !/^=+$/.test(line)).join('\n').trimEnd();
}

export function colorDiff(patch: string, c: Colors): string {
  return patch.split('\n').map((line) => {
    if (line.startsWith('+++') || line.startsWith('---')) return c.bold(line);
    if (line.startsWith('@@')) return c.cyan(line);
    if (line.startsWith('+')) return c.green(line);
    if (line.startsWith('-')) return c.red(line);
    return line;
  }).join('\n');
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}
