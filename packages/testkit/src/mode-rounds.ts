import { fork } from 'node:child_process';

/**
 * The harness of the plugins' per-call cost scripts (their bench folders): each mode is measured in a fresh
 * child process (the script itself, run with the mode as its argument, answering with one IPC
 * message), and the rounds interleave the modes so a neighbour's load hits them alike.
 */
export async function interleavedModeRounds<R>(script: string, modes: readonly string[], rounds: number): Promise<Record<string, R[]>> {
  const results: Record<string, R[]> = Object.fromEntries(modes.map((mode) => [mode, [] as R[]]));
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) results[mode]!.push(await measureInChild<R>(script, mode));
  }
  return results;
}

function measureInChild<R>(script: string, mode: string): Promise<R> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (message) => resolve(message as R));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${mode} exited with ${code}`))));
  });
}

/** Sends `calls` calls through `invoke`, `concurrency` at a time, each caller awaiting its previous call. */
export async function callsInFlight(calls: number, concurrency: number, invoke: () => Promise<unknown>): Promise<void> {
  let next = 0;
  const caller = async (): Promise<void> => {
    while (next++ < calls) await invoke();
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
}
