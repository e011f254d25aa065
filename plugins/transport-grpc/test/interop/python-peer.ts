import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CaseResult } from './cases.js';
import { GRPC_PROTO_DIR } from './messages.js';

/** Debian's interpreter: the one with python3-grpcio (another `python3` first on PATH may lack it). */
export const PYTHON = '/usr/bin/python3';
const SCRIPTS = join(__dirname, 'python');

/** Why the Python peer cannot run here, or undefined when it can. */
export function pythonPeerMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import grpc, google.protobuf'], { stdio: 'pipe' });
    execFileSync('protoc', ['--version'], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `python3-grpcio / protobuf-compiler missing (scripts/ensure-registries.sh installs them): ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Generates the grpc.testing Python messages with protoc into a temporary directory. */
export function generatePythonMessages(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-grpc-py-'));
  execFileSync('protoc', [
    `-I${GRPC_PROTO_DIR}`, `--python_out=${dir}`, 'grpc/testing/empty.proto', 'grpc/testing/messages.proto',
    'grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto',
  ], { stdio: 'pipe' });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts interop_server.py; resolves with its port once it listens. Stop it with stop(). */
export function startPythonServer(generated: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(PYTHON, [join(SCRIPTS, 'interop_server.py'), generated], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`interop_server.py did not listen within 30 s: ${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`interop_server.py exited with ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        port,
        async stop() {
          child.stdin!.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

/** Runs interop_client.py against a target: every case in one process, one result per case. */
export function runPythonClient(generated: string, target: string): Promise<CaseResult[]> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [join(SCRIPTS, 'interop_client.py'), generated, target], { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const results = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as CaseResult);
      if (error && results.length === 0) reject(new Error(`interop_client.py failed: ${error.message}\n${stderr}`));
      else resolve(results);
    });
  });
}

/** Runs reflection_client.py (a grpcurl-style session) against a target; resolves with its report. */
export function runPythonReflectionClient(generated: string, target: string, version: 'v1' | 'v1alpha'): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [join(SCRIPTS, 'reflection_client.py'), generated, target, version], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`reflection_client.py failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
    });
  });
}
