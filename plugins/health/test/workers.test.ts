import { fork } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

// A provider serving from 2 worker processes (RpcServer({ workers })), health plugin in each worker,
// the group's health endpoint in the primary (serveWorkerHealth): SERVING while the group serves,
// NOT_SERVING once its workers crash-loop (maxCrashes 1: two kill -9 in a row).
type Message = { ready?: { healthUrl: string; pids: number[] }; event?: { type: string } };

t.test("the primary's health endpoint answers for the group, and turns NOT_SERVING on a crash loop", async (t) => {
  const child = fork(join(__dirname, 'fixtures', 'worker-health-provider.cjs'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const messages: Message[] = [];
  const next = (matches: (m: Message) => boolean) => new Promise<Message>((resolve, reject) => {
    const found = messages.find(matches);
    if (found) return resolve(found);
    const onMessage = (m: Message) => {
      if (!matches(m)) return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`the provider exited (${code})`)));
  });
  child.on('message', (m: Message) => messages.push(m));
  const { ready } = await next((m) => m.ready !== undefined);

  const before = await fetch(ready!.healthUrl);
  t.same([before.status, await before.text()], [200, 'SERVING\n'], 'SERVING once every worker is ready');

  for (const pid of ready!.pids) process.kill(pid, 'SIGKILL');
  await next((m) => m.event?.type === 'crash-loop');
  const after = await fetch(ready!.healthUrl);
  t.same([after.status, await after.text()], [503, 'NOT_SERVING\n'], 'NOT_SERVING after the crash loop');
});
