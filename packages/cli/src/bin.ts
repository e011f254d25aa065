#!/usr/bin/env node
import { ExitCode } from './exit-codes.js';
import { run } from './program.js';

// The only place that touches process: streams in, an exit code out.
run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`trellis: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = ExitCode.INTERNAL;
  },
);
// `trellis ls | head`: the reader went away; stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.OK);
  throw error;
});
process.once('SIGINT', () => process.exit(ExitCode.INTERRUPTED));
