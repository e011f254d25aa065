import { distance } from 'fastest-levenshtein';

/**
 * Names close to `wanted`, best first: the same name in another case, names that end with it (a
 * service given without its package: `Greeter` for `demo.Greeter`), then those within an edit
 * distance that grows with the length of the last dotted segment (a third of it, 1 to 3). At most `limit`.
 */
export function closeNames(wanted: string, candidates: Iterable<string>, limit = 5): string[] {
  const lower = wanted.toLowerCase();
  // The budget comes from the last segment: `trellis.test.EchoServce` may be 3 edits off, not 7.
  const tail = wanted.slice(wanted.lastIndexOf('.') + 1);
  const budget = Math.min(3, Math.max(1, Math.floor(tail.length / 3)));
  const scored: { name: string; score: number }[] = [];
  for (const name of new Set(candidates)) {
    if (name === wanted) continue;
    const other = name.toLowerCase();
    let score: number;
    if (other === lower) score = 0;
    else if (other.endsWith(`.${lower}`) || other.endsWith(`/${lower}`)) score = 0.5;
    else {
      // The short name alone counts too: `Greter` is one edit from `demo.Greeter`'s `Greeter`.
      const short = other.slice(other.lastIndexOf('.') + 1);
      score = Math.min(distance(lower, other), lower.includes('.') ? Infinity : distance(lower, short));
      if (score > budget) continue;
    }
    scored.push({ name, score });
  }
  return scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name)).slice(0, limit).map((s) => s.name);
}

/** `; did you mean demo.Greeter or demo.Greeter2?` or '' */
export function didYouMean(names: readonly string[]): string {
  if (names.length === 0) return '';
  const quoted = names.map((n) => `"${n}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
  return `did you mean ${list}?`;
}
