import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

interface Steady {
  balancer: string;
  calls: number;
  failed: number;
  qps: number;
  share: Record<string, number>;
  serviceTimes: Record<string, { calls: number; meanMs: number } | undefined>;
}

// The CI smoke run of `pnpm bench:lb`: every phase runs against real provider processes and the
// results are written. Speed is never asserted here; only what must hold on any machine.
t.test('pnpm bench:lb --quick completes and writes lb-quick.json and lb-quick.svg', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'trellis-bench-lb-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(__dirname, '..', 'dist', 'lb', 'main.js'), '--quick', '--out', out], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  t.equal(code, 0, `${stdout.split('\n').slice(-20).join('\n')}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'lb-quick.json'), 'utf8')) as {
    quick: boolean;
    steady: Steady[];
    events: { reverse: { fastest: string }; freeze: { frozen: string; timedOut: number }; resume: { resumed: string } };
    pickCost: { endpoints: number; results: { balancer: string; nsPerPick: number }[] };
    phases: { balancer: string; kind: string }[];
    timeline: { binMs: number; started: number[][] };
  };
  t.equal(report.quick, true);
  t.same(report.steady.map((s) => s.balancer), ['round-robin', 'random', 'lalb']);
  for (const s of report.steady) {
    t.ok(s.calls > 0, `${s.balancer}: ${s.calls} calls completed in the steady phase`);
    t.equal(s.failed, 0, `${s.balancer}: no call failed while every provider was up`);
    const total = Object.values(s.share).reduce((a, b) => a + b, 0);
    t.ok(Math.abs(total - 1) < 1e-9, `${s.balancer}: shares add up to 1`);
    for (const name of ['A', 'B', 'C']) t.ok(s.serviceTimes[name] !== undefined, `${s.balancer}: ${name} reported its service times`);
  }
  // Round-robin sends every third call to each provider, whatever the machine's speed.
  for (const share of Object.values(report.steady[0]!.share)) t.ok(share > 0.3 && share < 0.37, `round-robin share ${share} ≈ 1/3`);
  t.same(report.phases.filter((p) => p.balancer === 'lalb').map((p) => p.kind), ['warmup', 'steady', 'reverse', 'freeze', 'resume']);
  t.equal(report.events.reverse.fastest, 'C', 'after the reversal C (1 ms) is the fastest');
  t.equal(report.events.freeze.frozen, report.events.resume.resumed);
  t.ok(report.timeline.started.length > 0 && report.timeline.binMs === 250);
  t.equal(report.pickCost.endpoints, 1000);
  t.same(report.pickCost.results.map((r) => r.balancer), ['round-robin', 'random', 'lalb']);
  for (const r of report.pickCost.results) t.ok(Number.isFinite(r.nsPerPick) && r.nsPerPick > 0, `${r.balancer}: ${r.nsPerPick} ns/pick`);
  const svg = readFileSync(join(out, 'lb-quick.svg'), 'utf8');
  t.match(svg, /^<svg[\s\S]*<\/svg>$/);
  for (const label of ['round-robin', 'random', 'LALB', 'frozen (SIGSTOP)', 'resumed (SIGCONT)']) t.match(svg, label);
});
