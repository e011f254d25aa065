import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInProcessTarget } from './in-process-target.js';
import { Mutator } from './mutator.js';
import { seededRandom as prng } from '@trellis/testkit';
import { runSocketTarget } from './socket-target.js';

export interface FuzzOptions {
  readonly seed: number;
  readonly iterations: number;
  readonly socketIterations: number;
  /** Where failing inputs are saved (they become regression inputs). */
  readonly crashDir?: string;
  readonly log?: (line: string) => void;
}

export interface FuzzReport {
  readonly seed: number;
  readonly inProcessInputs: number;
  readonly socketInputs: number;
  readonly failures: string[];
  readonly heapGrowthMb: number;
  readonly goodClientCalls: number;
  readonly seconds: number;
  /** Server answers in memory: responses by status code, GOAWAYs (closed connections), PONGs. */
  readonly tally: import('./output-check.js').OutputTally;
}

/** Closed connections hold their socket for up to a second (destroy timers): let those run first. */
const settleTimers = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2100));

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const random = prng(options.seed);
  const mutator = new Mutator(random);
  const failures: string[] = [];
  const unhandled = (reason: unknown) => failures.push(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`);
  process.on('unhandledRejection', unhandled);
  const target = await createInProcessTarget();
  const batch = 1000;
  let heapBaseline = 0;
  try {
    for (let done = 0; done < options.iterations; done += batch) {
      const inputs: Buffer[] = [];
      const sockets = [];
      for (let i = 0; i < batch && done + i < options.iterations; i++) {
        const input = mutator.next();
        inputs.push(input);
        sockets.push(target.run(input, random));
      }
      const violation = await target.settle(sockets);
      if (violation !== undefined) {
        failures.push(violation);
        save(options.crashDir, inputs, violation);
        if (failures.length >= 10) break;
      }
      if (done === 20_000) {
        await settleTimers();
        gc();
        heapBaseline = process.memoryUsage().heapUsed;
      }
      if (done % 200_000 === 0 && done > 0) {
        gc();
        log(`  ${done} inputs, ${failures.length} failures, heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(1)} MB`);
      }
    }
  } finally {
    await target.close();
  }
  await settleTimers();
  gc();
  const heapGrowthMb = heapBaseline === 0 ? 0 : (process.memoryUsage().heapUsed - heapBaseline) / 1024 / 1024;
  let socketInputs = 0;
  let goodClientCalls = 0;
  if (options.socketIterations > 0) {
    log(`  socket target: ${options.socketIterations} inputs over real connections, a well-formed client alongside`);
    const socketRandom = prng(options.seed ^ 0x5eed);
    const socketMutator = new Mutator(socketRandom);
    const result = await runSocketTarget((function* () {
      for (let i = 0; i < options.socketIterations; i++) yield socketMutator.next();
    })());
    socketInputs = result.inputs;
    goodClientCalls = result.goodCalls;
    if (result.goodErrors.length > 0) failures.push(`the well-formed client failed ${result.goodErrors.length} times: ${result.goodErrors[0]}`);
    if (result.goodCalls === 0) failures.push('the well-formed client completed no call during the socket run');
  }
  process.off('unhandledRejection', unhandled);
  return {
    seed: options.seed,
    inProcessInputs: options.iterations,
    socketInputs,
    failures,
    heapGrowthMb,
    goodClientCalls,
    tally: target.tally,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Saves the batch that produced a violation; replaying the files reproduces it. */
function save(dir: string | undefined, inputs: Buffer[], violation: string): void {
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const all = Buffer.concat(inputs.map((input) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(input.length);
    return Buffer.concat([length, input]);
  }));
  const name = createHash('sha1').update(all).digest('hex').slice(0, 12);
  writeFileSync(join(dir, `${name}.bin`), all);
  writeFileSync(join(dir, `${name}.txt`), `${violation}\n`);
}
