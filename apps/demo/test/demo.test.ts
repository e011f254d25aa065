import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { pythonMissing } from '../src/foreign-caller.js';

// `npm start` runs this same program for 20 s; here a short run must show every governance moment
// and end with a passing verdict (exit code 0). p3 is made 30 ms slower instead of `npm start`'s 4:
// LALB's shift off it is asserted, and on a loaded machine every call's latency jitters by more than
// 4 ms (seen at load 28: p3 kept 34.8 % of the v1 calls); 30 ms stands out of that jitter, and
// the shift is still LALB's doing (round robin would give p3 a third). 100 calls/s, not 300: the
// consumer (tracing, metrics, console, LALB, retry, breaker, health) is itself CPU-bound at 300/s on
// a loaded machine — at load ~30 its p50 was 187 ms, 500 ms attempts timed out, the retry budget ran
// out and 439 calls failed; at 100/s a minute later (load 35), p50 7 ms and none failed. Every fault still
// meets hundreds of calls, and an idempotent call lost to any of them still fails the verdict.
t.test('the demo runs its timeline and prints a passing summary', async (t) => {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(__dirname, '..', 'dist', 'main.js'), '--duration', '16', '--rate', '100', '--slow-ms', '30'], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-500)})`);
  t.match(stdout, /Summary — 4 providers, 1 consumer, static registry, 16 s/);
  t.match(stdout, /health of p1: healthy → subhealthy/, 'the frozen provider turned sub-healthy');
  t.match(stdout, /p2 exited after draining/, 'the graceful stop completed');
  t.match(stdout, /p4 reloaded in \d+ ms: every worker replaced/, 'the multi-worker provider reloaded on SIGHUP');
  t.match(stdout, /gray release: \d+ of \d+ users went to v2 .*users served by both versions: 0/, 'gray routing is stable per user');
  // LALB shifted v1 traffic off the provider that is slower (round robin would give it 33 %).
  const slow = /p3, 30 ms slower, served ([\d.]+) % of the v1 calls/.exec(stdout);
  t.ok(slow, 'the LALB summary names the slow provider\'s share');
  t.ok(slow && Number(slow[1]) < 20, `p3 served ${slow?.[1]} % of the v1 calls before the faults (< 20 %)`);
  // The visitor feed (a server stream) runs on the demo's transport: the native TCP one says it has
  // no streams until its stream frames are merged; with them, the feed reports what it received.
  t.match(stdout, /visitor feed \(server stream\): (\d+ events from p\d.*(none missed|\d+ missed)|not run — .*has no openStream)/, 'the visitor feed says what it did');
  t.match(stdout, /p1 listening on 127\.0\.0\.1:\d+ \(Trellis\) and 127\.0\.0\.1:\d+ \(gRPC\)/, 'each provider serves gRPC beside the native protocol');
  // A client outside Trellis called p1's gRPC port: Python's grpcio where it is installed (always in
  // CI: scripts/ensure-registries.sh installs it), else grpc-js, which the line must then say.
  const outsider = pythonMissing() === undefined || process.env.TRELLIS_REQUIRE_REGISTRIES
    ? /a call from outside Trellis: Python grpcio [\d.]+ \(\/usr\/bin\/python3 apps\/demo\/python\/call_greeter\.py\) → p1 over gRPC \(HTTP\/2 h2c, 127\.0\.0\.1:\d+\), demo\.Greeter\/SayHello: Hello, outsider! \(served by p1; status OK; grpcio [\d.]+\)/
    : /a call from outside Trellis: @grpc\/grpc-js [\d.]+ \(instead of Python: .+\) → p1 over gRPC \(HTTP\/2 h2c, 127\.0\.0\.1:\d+\), demo\.Greeter\/SayHello: Hello, outsider! \(served by p1; status OK\)/;
  t.match(stdout, outsider, 'the summary shows the call a non-Trellis client made over gRPC, and its answer');
  t.match(stdout, /breaker transitions:/);
  t.match(stdout, /trellis_client_requests_total\{service="demo.Greeter"/, 'metrics were scraped');
  t.match(stdout, /web console of this consumer \(open it while the demo runs\): http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{32}/, 'the console URL is printed');
  t.match(stdout, /No call failed|all non-idempotent Remember calls/, 'the verdict');
});
