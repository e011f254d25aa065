import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

interface Steady {
  scenario: string;
  balancer: string;
  calls: number;
  failed: number;
  failedCodes: Record<string, number>;
  p99Us: number;
  qps: number;
  share: Record<string, number>;
  picks: Record<string, number>;
  serviceTimes: Record<string, { calls: number; meanMs: number } | undefined>;
}

// The CI smoke run of `pnpm bench:lb`: every phase runs against real provider processes and the
// results are written. Speed is never asserted here; only what must hold on any machine. The
// per-call timeout is 3 s rather than the benchmark's 500 ms: on a loaded 2-core CI machine the
// whole process can stall for more than 500 ms, and "no call failed" must not hinge on that.
t.test('pnpm bench:lb --quick completes and writes lb-quick.json and lb-quick.svg', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'trellis-bench-lb-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(__dirname, '..', 'dist', 'lb', 'main.js'), '--quick', '--timeout-ms', '3000', '--out', out], { timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  t.equal(code, 0, `${stdout.split('\n').slice(-20).join('\n')}\n${stderr}`);
  type Events = { reverse: { fastest: string }; freeze: { frozen: string; timedOut: number }; resume: { resumed: string } };
  const report = JSON.parse(readFileSync(join(out, 'lb-quick.json'), 'utf8')) as {
    quick: boolean;
    steady: Steady[];
    equalShares: Record<string, { share: Record<string, number> }>;
    events: Record<string, Events>;
    model: { equal: Record<string, { share: Record<string, number> }> };
    pickCost: { endpoints: number; results: { balancer: string; nsPerPick: number }[]; tableBuild: { table: string; ms: number }[] };
    phases: { scenario: string; balancer: string; kind: string }[];
    timeline: { binMs: number; started: number[][] };
  };
  const balancers = ['round-robin', 'random', 'lalb', 'p2c'];
  t.equal(report.quick, true);
  t.same(report.steady.map((s) => `${s.scenario}/${s.balancer}`), [...balancers.map((b) => `unequal/${b}`), ...balancers.map((b) => `equal/${b}`)]);
  for (const s of report.steady) {
    const what = `${s.scenario}, ${s.balancer}`;
    t.ok(s.calls > 0, `${what}: ${s.calls} calls completed in the steady phase`);
    t.equal(s.failed, 0, `${what}: no call failed while every provider was up (failed: ${JSON.stringify(s.failedCodes)}, p99 ${Math.round(s.p99Us)} µs)`);
    const total = Object.values(s.share).reduce((a, b) => a + b, 0);
    t.ok(Math.abs(total - 1) < 1e-9, `${what}: shares add up to 1`);
    for (const name of ['A', 'B', 'C']) t.ok(s.serviceTimes[name] !== undefined, `${what}: ${name} reported its service times`);
  }
  // Round-robin sends every third call to each provider, whatever the machine's speed: of the calls
  // started in the steady phase, each provider got the same number, give or take one (two at most:
  // the phase's edges cut the rotation anywhere). Counted by the calls sent, not the calls completed
  // in the phase: at load 40 one phase completed only 24 calls, all of them from one provider.
  for (const s of report.steady.filter((r) => r.balancer === 'round-robin')) {
    const picks = Object.values(s.picks);
    t.ok(Math.min(...picks) > 0 && Math.max(...picks) - Math.min(...picks) <= 2, `${s.scenario} round-robin: calls sent in the steady phase ${JSON.stringify(s.picks)}, an even split`);
  }
  for (const balancer of balancers) {
    t.same(report.phases.filter((p) => p.balancer === balancer).map((p) => `${p.scenario}/${p.kind}`),
      ['unequal/warmup', 'unequal/steady', 'unequal/reverse', 'unequal/freeze', 'unequal/resume', 'equal/warmup', 'equal/steady'], `${balancer}: every phase ran`);
    const events = report.events[balancer]!;
    t.equal(events.reverse.fastest, 'C', `${balancer}: after the reversal C (1 ms) is the fastest`);
    t.equal(events.freeze.frozen, events.resume.resumed);
    t.ok(report.equalShares[balancer] !== undefined, `${balancer}: equal shares reported`);
  }
  t.same(Object.keys(report.model.equal), ['lalb', 'brpc', 'p2c']);
  t.ok(report.timeline.started.length > 0 && report.timeline.binMs === 250);
  t.equal(report.pickCost.endpoints, 1000);
  t.same(report.pickCost.results.map((r) => r.balancer), ['round-robin', 'random', 'lalb', 'p2c', 'hash-ring', 'hash-maglev']);
  for (const r of report.pickCost.results) t.ok(Number.isFinite(r.nsPerPick) && r.nsPerPick > 0, `${r.balancer}: ${r.nsPerPick} ns/pick`);
  t.same(report.pickCost.tableBuild.map((b) => b.table), ['ring', 'maglev']);
  const svg = readFileSync(join(out, 'lb-quick.svg'), 'utf8');
  t.match(svg, /^<svg[\s\S]*<\/svg>$/);
  for (const label of ['rr', 'random', 'LALB', 'P2C', 'frozen (SIGSTOP)', 'resumed (SIGCONT)', 'equal service times']) t.match(svg, label);
});
