import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { startEtcd } from '@trellis/testkit';
import {
  WORKSPACE_ROOT, describe, guideSteps, normalizeTranscript, parseCommandLine, runToEnd, userEnv, UserProcess, type GuideStep,
} from '../src/index.js';

const GUIDE = join(WORKSPACE_ROOT, 'docs', 'getting-started.md');
// The ports the guide uses, replaced in commands and transcripts by the ones in use (etcd's by the
// test's etcd, a provider's by the one it printed).
const GUIDE_PORTS = [50051, 50052, 2379] as const;
// How the guide tells a provider its port (`PORT=50051 node dist/provider.js`). The test starts it
// with PORT=0 and reads the port the OS gave it from the line it prints once it serves: a port picked
// here and bound later by the provider could be taken by another process in between (EADDRINUSE).
const PROVIDER_PORT = /\bPORT=(\d+)\b/;
const LISTENING_ON = /listening on port (\d+)\b/;

// A loaded 2-core CI machine: installs may reach the registry, compiles take seconds.
const SCRIPT_TIMEOUT_MS = 240_000;
const START_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

const steps = guideSteps(readFileSync(GUIDE, 'utf8'));

t.test('the guide has what this test follows', async (t) => {
  const kinds = new Set(steps.map((step) => step.kind));
  t.same([...kinds].sort(), ['file', 'run', 'start', 'transcript']);
  t.ok(steps.some((s) => s.kind === 'run' && s.where === 'repository'), 'packing the tarballs is a step');
  t.ok(steps.some((s) => s.kind === 'transcript' && s.note === 'needs redactErrors'), 'the redaction transcript is marked');
});

t.test('the guide installs the third-party versions the workspace builds and tests with', async (t) => {
  const manifest = (dir: string) => JSON.parse(readFileSync(join(WORKSPACE_ROOT, dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const workspace = { ...manifest('.').devDependencies, ...manifest('packages/core').dependencies };
  const scripts = steps.flatMap((s) => (s.kind === 'run' ? [s.script] : []));
  const pinned = [...scripts.join('\n').matchAll(/\bnpm install [^\n]*/g)].flatMap((m) => [...m[0].matchAll(/(?:^|\s)((?:@[\w-]+\/)?[\w.-]+)@(\S+)/g)]);
  t.ok(pinned.length >= 4, `${pinned.length} versioned installs`);
  for (const [, name, range] of pinned) t.equal(range, workspace[name!], `${name}@${range}`);
});

t.test('docs/getting-started.md, followed as written in a fresh directory', async (t) => {
  // Outside the repository: nothing may resolve from the workspace's node_modules.
  const home = mkdtempSync(join(tmpdir(), 'trellis-guide-'));
  const app = join(home, 'my-app');
  const tarballs = join(home, 'tarballs');
  for (const dir of [app, tarballs, join(home, 'tmp')]) mkdirSync(dir);
  const running: UserProcess[] = [];
  t.teardown(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL', STOP_TIMEOUT_MS)));
    rmSync(home, { recursive: true, force: true });
  });
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  // A provider's port is known once it printed it (see PROVIDER_PORT).
  const ports = new Map<number, number>([[2379, etcd.port]]);
  const withOurPorts = (text: string) =>
    text.replace(new RegExp(`\\b(${GUIDE_PORTS.join('|')})\\b`, 'g'), (port) => {
      const ours = ports.get(Number(port));
      if (ours === undefined) throw new Error(`the guide uses port ${port} before a provider listens on it: ${text}`);
      return String(ours);
    });
  const env = userEnv({
    TARBALLS: tarballs,
    // Snapshots and other temporary files of the app stay in this run's directory.
    TMPDIR: join(home, 'tmp'),
    // Quieter and faster npm; the commands themselves are the guide's.
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_prefer_offline: 'true',
  });

  const sections: { title: string; steps: GuideStep[] }[] = [];
  for (const step of steps) {
    if (sections.at(-1)?.title !== step.section) sections.push({ title: step.section, steps: [] });
    sections.at(-1)!.steps.push(step);
  }

  for (const section of sections) {
    // Processes a section starts live until the next section (the guide says to stop them there).
    await t.test(section.title, async (t) => {
      const started: UserProcess[] = [];
      for (const step of section.steps) {
        const where = `line ${step.line}`;
        switch (step.kind) {
          case 'file': {
            mkdirSync(dirname(join(app, step.path)), { recursive: true });
            writeFileSync(join(app, step.path), step.content);
            t.pass(`${where}: wrote ${step.path}`);
            break;
          }
          case 'run': {
            const cwd = step.where === 'app' ? app : WORKSPACE_ROOT;
            const result = await runToEnd('bash', ['-euo', 'pipefail', '-c', step.script], { cwd, env, timeoutMs: SCRIPT_TIMEOUT_MS });
            if (result.code !== 0) {
              t.fail(`${where}: the commands failed (${describe(result)})`, { script: step.script, stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) });
              return;
            }
            t.pass(`${where}: ${step.script.split('\n').join('; ')}`);
            break;
          }
          case 'start': {
            for (const line of step.commands) {
              const guidePort = PROVIDER_PORT.exec(line)?.[1];
              if (guidePort === undefined) throw new Error(`${where}: no PORT=… in "${line}"`);
              const command = parseCommandLine(withOurPorts(line.replace(PROVIDER_PORT, 'PORT=0')));
              const proc = new UserProcess(command.command, command.args, { cwd: app, env: { ...env, ...command.env } });
              running.push(proc);
              started.push(proc);
              const first = await proc.firstLine(START_TIMEOUT_MS);
              t.match(first, new RegExp(`\\b${proc.pid}\\b.*listening`), `${where}: ${line} → ${first}`);
              const listening = Number(LISTENING_ON.exec(first)?.[1]);
              if (!(listening > 0)) {
                t.fail(`${where}: the provider does not say which port it listens on: ${first}`);
                return;
              }
              ports.set(Number(guidePort), listening);
            }
            break;
          }
          case 'transcript': {
            const command = parseCommandLine(withOurPorts(step.command));
            const result = await runToEnd(command.command, command.args, { cwd: app, env: { ...env, ...command.env }, timeoutMs: COMMAND_TIMEOUT_MS });
            t.equal(result.code, 0, `${where}: ${step.command} exits with 0`, { stderr: result.stderr.slice(-3000) });
            const actual = result.stdout.replace(/\n$/, '').split('\n');
            const expected = step.expected.map(withOurPorts);
            t.same(normalizeTranscript(actual), normalizeTranscript(expected), `${where}: output as shown`);
            if (step.note === 'needs redactErrors') checkRedaction(t, actual, started);
            // "served by pid N": every call was served by a provider of this section, and each served some.
            const servedBy = new Set([...result.stdout.matchAll(/served by pid (\d+)/g)].map((m) => Number(m[1])));
            if (started.length > 0) t.same([...servedBy].sort(), started.map((p) => p.pid).sort(), `${where}: the calls spread over every provider`);
            break;
          }
        }
      }
      // "Stop the providers with Ctrl-C": each closes gracefully and exits by itself.
      for (const proc of started) {
        const exit = await proc.stop('SIGINT', STOP_TIMEOUT_MS);
        running.splice(running.indexOf(proc), 1);
        t.equal(exit.code, 0, `Ctrl-C: the process ${proc.pid} exits with 0`, { stderr: exit.stderr.slice(-3000) });
      }
    });
    if (!t.passing()) break; // later sections build on this one
  }
});

/** Whether the installed kernel knows `redactErrors` (its typings declare the option). */
/** The redacted error's id is the trailer's, and the provider that served it logged the full error with it. */
function checkRedaction(t: Test, output: readonly string[], providers: readonly UserProcess[]): void {
  const redacted = output.map((line) => /\(id ([^)\s]+)\) \[trellis-error-id ([^\]\s]+)\]/.exec(line)).filter((m) => m !== null);
  t.equal(redacted.length, 1, 'one redacted error');
  const [, inMessage, inTrailer] = redacted[0] ?? [];
  t.equal(inMessage, inTrailer, 'the message quotes the trailer\'s id');
  const logged = providers.filter((p) => inMessage !== undefined && p.stderr.includes(inMessage));
  t.equal(logged.length, 1, 'one provider logged the error under that id');
  t.match(logged[0]?.stderr ?? '', 'stock database unreachable', 'with its original message');
  t.notMatch(output.join('\n'), 's3cret', 'the password did not reach the caller');
}
