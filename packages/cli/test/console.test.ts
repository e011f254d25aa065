import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import { RpcServer } from '@trellis/core';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { createEchoHandlers, loadEchoService, startEtcd } from '@trellis/testkit';
import { BIN, trellis, withPatientDeadlines } from './fixtures/cli.js';

/**
 * `trellis console` against a real etcd: run as a subprocess, it prints its URL (JSON in a pipe), and
 * the page's API lists the registry's services and providers — with the provider's own console URL
 * (tag trellis.admin) — behind the token. The page itself is covered in a browser by @trellis/admin's tests.
 */
t.test('trellis console serves the registry view of a real etcd', async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  // A 30 s lease: expiry is not tested here, and a stall past a short TTL would drop the provider from the view.
  const registry = etcdRegistry({ endpoints: etcd.endpoints, snapshotDir: false, ttlSeconds: 30 });
  const server = new RpcServer({ host: '127.0.0.1', registry, tags: { 'trellis.admin': 'http://127.0.0.1:9090/' } });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'p1' }));
  await server.start();
  t.teardown(async () => {
    await server.close({ graceMs: 0 });
    await registry.close();
  });

  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: undefined, TRELLIS_REGISTRY: undefined };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const args = withPatientDeadlines(['console', '--registry', `etcd://127.0.0.1:${etcd.port}`, '--token', 'console-test-token-0123']);
  const child = spawn(process.execPath, [BIN, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(async () => {
    child.kill('SIGINT');
    await exited;
  });
  // The JSON document it prints (possibly over several lines) once it serves.
  const printed = await new Promise<{ url: string; registry: string }>((resolve, reject) => {
    let text = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      text += `${line}\n`;
      try {
        resolve(JSON.parse(text));
      } catch { /* not complete yet */ }
    });
    child.once('exit', (code) => reject(new Error(`trellis console exited with ${code}`)));
  });
  const { url, registry: shown } = printed;
  t.equal(shown, `etcd://127.0.0.1:${etcd.port}`);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/#token=console-test-token-0123$/);
  const base = url.slice(0, url.indexOf('#'));
  t.equal((await fetch(new URL('/api/state', base))).status, 401, 'the API needs the token');
  const state = await (await fetch(new URL('/api/state', base), { headers: { authorization: 'Bearer console-test-token-0123' } })).json() as {
    mode: string; services: { name: string; providers: { port: number; console?: string }[] }[];
  };
  t.equal(state.mode, 'registry');
  const echo = state.services.find((s) => s.name === 'trellis.test.EchoService');
  t.equal(echo?.providers[0]?.port, server.port);
  t.equal(echo?.providers[0]?.console, 'http://127.0.0.1:9090/', 'the provider links to its own console');
  t.equal((await fetch(base)).status, 200, 'the page is served');
});

t.test('trellis console with an unreachable registry fails with the registry exit code', async (t) => {
  const run = await trellis(['console', '--registry', 'etcd://127.0.0.1:1', '--registry-timeout', '500ms']);
  t.equal(run.code, 3);
  t.match(run.stdout + run.stderr, /127\.0\.0\.1:1/);
});
