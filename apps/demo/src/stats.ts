import { percentile } from '@trellis/core/toolkit';

/** What the demo consumer saw, and the summary it prints. */
export class TrafficStats {
  calls = 0;
  private readonly failures: { method: string; message: string; mayHaveRun: boolean }[] = [];
  private readonly latencies: number[] = [];
  readonly perProvider = new Map<string, number>();
  /** user → providers that served them (gray routing must be stable per user). */
  private readonly users = new Map<string, Set<string>>();
  /** [seconds since start, provider] of every v1 call, for shares over time. */
  private readonly timeline: [number, string][] = [];

  record(latencyMs: number, servedBy: string, user: string | undefined, atSeconds: number): void {
    this.calls++;
    this.latencies.push(latencyMs);
    this.perProvider.set(servedBy, (this.perProvider.get(servedBy) ?? 0) + 1);
    if (user !== undefined) {
      let set = this.users.get(user);
      if (!set) this.users.set(user, (set = new Set()));
      set.add(servedBy === 'p4' ? 'v2' : 'v1');
    }
    if (servedBy !== 'p4') this.timeline.push([atSeconds, servedBy]);
  }

  fail(method: string, message: string, mayHaveRun: boolean): void {
    this.calls++;
    this.failures.push({ method, message, mayHaveRun });
  }

  percentile(p: number): number {
    return this.latencies.length === 0 ? 0 : percentile(this.latencies, p);
  }

  /** "12.3 %": the provider's share of the v1 calls sent between `from` and `to` (seconds). */
  shareBetween(provider: string, from: number, to: number): string {
    const before = this.timeline.filter(([t]) => t >= from && t < to);
    const mine = before.filter(([, p]) => p === provider).length;
    return `${((100 * mine) / Math.max(1, before.length)).toFixed(1)} %`;
  }

  table(notes: ReadonlyMap<string, string>): string {
    const rows: string[][] = [['calls', 'errors', 'p50', 'p99']];
    rows.push([String(this.calls), String(this.failures.length), `${this.percentile(50).toFixed(2)} ms`, `${this.percentile(99).toFixed(2)} ms`]);
    const lines = [formatRows(rows), '', 'calls per provider:'];
    const providerRows: string[][] = [['provider', 'calls', 'share', 'note']];
    for (const [name, count] of [...this.perProvider].sort()) {
      providerRows.push([name, String(count), `${((100 * count) / Math.max(1, this.calls)).toFixed(1)} %`, notes.get(name) ?? '']);
    }
    lines.push(formatRows(providerRows));
    if (this.failures.length > 0) {
      lines.push('', 'errors (first 5):', ...this.failures.slice(0, 5).map((f) => `  ${f.method}: ${f.message}`));
    }
    return lines.join('\n');
  }

  grayReport(): string {
    const v2 = [...this.users].filter(([, sides]) => sides.has('v2')).map(([u]) => u);
    const flapping = [...this.users].filter(([, sides]) => sides.size > 1).length;
    return `gray release: ${v2.length} of ${this.users.size} users went to v2 (configured: users 7 and 42 plus 10 % by hash of the name) — ` +
      `${v2.sort().join(', ')}; users served by both versions: ${flapping} (routing is stable per user)`;
  }

  /**
   * Zero errors is the expectation. The one failure that is correct behaviour: a non-idempotent call
   * (Remember) that may have run on a provider that froze or died is not retried, and says so.
   */
  verdict(): { ok: boolean; text: string } {
    if (this.failures.length === 0) return { ok: true, text: 'No call failed: health, breaker, retries and the graceful stop absorbed every fault.' };
    const unexpected = this.failures.filter((f) => !(f.method === 'Remember' && f.mayHaveRun));
    if (unexpected.length === 0) {
      return {
        ok: true,
        text: `${this.failures.length} call(s) failed, all non-idempotent Remember calls that may have run on a provider that froze or died: ` +
          'retrying them could record a visitor twice, so Trellis returns the error instead. Every idempotent call succeeded.',
      };
    }
    return { ok: false, text: `${unexpected.length} calls failed unexpectedly.` };
  }
}

function formatRows(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '  ' + r.map((cell, i) => cell.padEnd(widths[i]!)).join('   ')).join('\n');
}
