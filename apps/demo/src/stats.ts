/** What the demo consumer saw, and the summary table it prints. */
export class TrafficStats {
  calls = 0;
  errors: string[] = [];
  private readonly latencies: number[] = [];
  readonly perProvider = new Map<string, number>();

  record(latencyMs: number, servedBy: string): void {
    this.calls++;
    this.latencies.push(latencyMs);
    this.perProvider.set(servedBy, (this.perProvider.get(servedBy) ?? 0) + 1);
  }

  fail(message: string): void {
    this.calls++;
    this.errors.push(message);
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return 0;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  table(notes: ReadonlyMap<string, string>): string {
    const rows: string[][] = [['calls', 'errors', 'p50', 'p99']];
    rows.push([String(this.calls), String(this.errors.length), `${this.percentile(50).toFixed(2)} ms`, `${this.percentile(99).toFixed(2)} ms`]);
    const lines = [formatRows(rows), '', 'calls per provider:'];
    const providerRows: string[][] = [['provider', 'calls', 'share', 'note']];
    for (const [name, count] of [...this.perProvider].sort()) {
      providerRows.push([name, String(count), `${((100 * count) / Math.max(1, this.calls)).toFixed(1)} %`, notes.get(name) ?? '']);
    }
    lines.push(formatRows(providerRows));
    if (this.errors.length > 0) {
      lines.push('', 'errors (first 5):', ...this.errors.slice(0, 5).map((e) => `  ${e}`));
    }
    return lines.join('\n');
  }
}

function formatRows(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '  ' + r.map((cell, i) => cell.padEnd(widths[i]!)).join('   ')).join('\n');
}
