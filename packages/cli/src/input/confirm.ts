import { createInterface } from 'node:readline/promises';
import { CliError, usage } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import type { Streams } from '../output.js';

/**
 * Asks "… [y/N]" on the terminal. `--yes` skips it; without a terminal to ask on, nothing is written
 * and the error says to pass --yes (a script must say so explicitly). A "no" exits 7.
 */
export async function confirm(question: string, streams: Streams, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!streams.stdin.isTTY) {
    throw usage('refusing to write without confirmation: stdin is not a terminal', 'pass --yes to write without asking');
  }
  const rl = createInterface({ input: streams.stdin, output: streams.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(ExitCode.DECLINED, 'not confirmed; nothing was written');
  } finally {
    rl.close();
  }
}
