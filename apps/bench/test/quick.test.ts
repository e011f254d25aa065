import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

// The CI smoke run: every scenario completes with zero errors. Speed is never asserted here.
t.test('pnpm bench --quick completes every scenario with zero errors', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'trellis-bench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, [join(__dirname, '..', 'dist', 'main.js'), '--quick', '--out', out], { timeout: 240_000 }, (error, stdout) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }));
  });
  t.equal(code, 0, stdout.split('\n').slice(-15).join('\n'));
  const report = JSON.parse(readFileSync(join(out, 'quick.json'), 'utf8')) as { results: { scenario: string; point: string; errors: number; calls: number }[] };
  t.same([...new Set(report.results.map((r) => r.scenario))], ['trellis', 'trellis-governance', 'trellis-governance-1pct', 'grpc-js', 'raw']);
  for (const r of report.results) {
    t.equal(r.errors, 0, `${r.scenario} @${r.point}: no errors`);
    t.ok(r.calls > 0, `${r.scenario} @${r.point}: ${r.calls} calls completed`);
  }
  t.match(readFileSync(join(out, 'quick.svg'), 'utf8'), /^<svg[\s\S]*<\/svg>$/);
});
