import { invalidOption } from './errors.js';

/**
 * Refuses keys an options object does not know (a typo such as `timeoutMz` would otherwise be
 * ignored in silence), naming the key, and the closest known one when there is a likely match.
 */
export function rejectUnknownKeys(what: string, value: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = closestName(key, known);
    throw invalidOption(
      `${prefix}${key}`,
      (value as Record<string, unknown>)[key],
      `no such ${what} option${near === undefined ? '' : ` (did you mean "${near}"?)`}; known: ${known.join(', ')}`,
    );
  }
}

/**
 * The known name nearest to `name` (case-insensitive edit distance at most 2), for "did you mean"
 * hints on option keys and rule-document fields; undefined when none is that close.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance; names are short, so the quadratic table is tiny. Gives up past 2. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
