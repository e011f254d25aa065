import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { forkReady } from '../src/index.js';

// Child scripts as plain CommonJS files, forked without the test runner's loader flags.
const dir = mkdtempSync(join(tmpdir(), 'fork-ready-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
function script(name: string, body: string): string {
  const file = join(dir, `${name}.js`);
  writeFileSync(file, body);
  return file;
}

t.test('resolves with the ready message; the child is there before it', async (t) => {
  const entry = script('ready', `
    const server = require('node:net').createServer().listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port, arg: process.argv[2] }));
    process.on('disconnect', () => process.exit(0));`);
  const { child, ready } = forkReady<{ type: 'ready'; port: number; arg: string }>(entry, ['hello'], { label: 'server x', execArgv: [] });
  t.ok(child.pid, 'the child is there at once (to pin it)');
  const message = await ready;
  t.equal(message.arg, 'hello');
  t.ok(message.port > 0);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.disconnect();
  await exited;
});

t.test('rejects with the reason a child that could not start gives', async (t) => {
  const entry = script('failed', `process.send({ type: 'failed', message: 'port 1 is taken' }, () => process.exit(1));`);
  await t.rejects(forkReady(entry, [], { label: 'provider a', execArgv: [] }).ready, { message: 'provider a failed to start: port 1 is taken' });
});

t.test('rejects when the child exits before it said anything', async (t) => {
  const entry = script('exits', `process.exit(3);`);
  await t.rejects(forkReady(entry, [], { label: 'provider b', execArgv: [] }).ready, { message: 'provider b exited with code 3 before it was ready' });
});
