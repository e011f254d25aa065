import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

// The CI smoke run of the gRPC benchmark: every point completes with zero errors. Speed is never asserted here.
t.test('the gRPC benchmark --quick completes every point with zero errors', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'trellis-grpc-bench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, [join(__dirname, '..', 'dist', 'grpc', 'main.js'), '--quick', '--out', out], { timeout: 120_000 }, (error, stdout) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }));
  });
  t.equal(code, 0, stdout.split('\n').slice(-15).join('\n'));
  const report = JSON.parse(readFileSync(join(out, 'grpc-quick.json'), 'utf8')) as { points: { id: string; errors: number; count: number }[]; ratios: { name: string; value: number }[] };
  t.equal(report.points.length, 12);
  for (const p of report.points) {
    t.equal(p.errors, 0, `${p.id}: no errors`);
    t.ok(p.count > 0, `${p.id}: ${p.count} calls or messages`);
  }
  t.equal(report.ratios.length, 5, 'every target ratio is computed');
});
