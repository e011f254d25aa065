/**
 * Node flags for the side-by-side benches' worker processes (`pnpm bench`, `bench:grpc`), the same
 * for every kind.
 *
 * `--min-semi-space-size=16` starts V8's young generation at its Node 20 default maximum and keeps it
 * there. Without it, its size depends on what the process did before the timed round, not on the
 * kind: it starts at 1 MiB and grows only as scavenges' survivors add up to its capacity, and a
 * process that sat idle (a `--profile` run keeps the second scenario's server idle 15–19 s while the
 * first one is profiled) has it shrunk at its next GC (V8: allocation under ≈ 1000 B/ms since the last
 * GC). A governed server measured that way ran with 8–9 MiB against bare's 32, made 599 scavenges
 * against 258, and showed 42 % of its busy time in GC (docs/performance.md, "Governance path,
 * session 11 (server)"; `packages/core/bench/young-gen-after-idle.js` shows the shrink without
 * Trellis). A service under steady load keeps the full size, which is what the benches measure.
 */
export const WORKER_EXEC_ARGV: readonly string[] = ['--min-semi-space-size=16'];

/** The flags a worker is forked with: this process's own (an inspector, a loader) and the above. */
export function workerExecArgv(): string[] {
  return [...process.execArgv, ...WORKER_EXEC_ARGV];
}
