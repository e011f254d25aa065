import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** proto-loader-gen-types, located through proto-loader's package.json `bin` (not a guessed path). */
function genTypesBin(): string {
  const manifestPath = require.resolve('@grpc/proto-loader/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  const bin = manifest.bin['proto-loader-gen-types'];
  if (!bin) throw new Error(`@grpc/proto-loader at ${dirname(manifestPath)} has no proto-loader-gen-types bin`);
  return join(dirname(manifestPath), bin);
}

/**
 * Runs proto-loader-gen-types in a child process: it is a script (it only runs as the main module),
 * and it does not wait for its own file writes — the child exiting is the signal that they landed.
 */
export function runGenTypes(args: readonly string[], verbose: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [genTypesBin(), ...args], {
      stdio: ['ignore', verbose ? 'inherit' : 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (verbose) process.stderr.write(chunk);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`proto-loader-gen-types failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}
