// A 3-server ensemble: the leader killed, a server cut off from its peers. The short versions of the
// cluster scenarios in apps/chaos (`pnpm chaos --cluster` runs the long ones, with traffic).
import t, { type Test } from 'tap';
import { fourLetterWord, startZooKeeperEnsemble, type ZooKeeperEnsemble } from '@trellis/testkit';
import { zookeeperRegistry, type ZooKeeperRegistry } from '../src/index.js';
import { EventLog, instance, ListRecorder, SERVICE, waitFor } from './fixtures/helpers.js';

const SESSION_MS = 4000;

let ensemble: ZooKeeperEnsemble;
t.before(async () => {
  ensemble = await startZooKeeperEnsemble({ tickTime: 500 });
});
t.teardown(() => ensemble?.stop());

function open(t: Test, root: string, events = new EventLog()): ZooKeeperRegistry & { events: EventLog } {
  const registry = zookeeperRegistry({
    connectString: ensemble.connectString, root, sessionTimeoutMs: SESSION_MS, snapshotDir: false, onEvent: events.onEvent, onError: () => undefined,
  });
  t.teardown(() => registry.close());
  return Object.assign(registry, { events });
}

/** The server a session is connected to, from the servers' own list of connections (`cons`). */
async function serverOf(sessionId: string): Promise<number | undefined> {
  const answers = await Promise.all(ensemble.members.map((m) => (m.running ? fourLetterWord(m.clientPort, 'cons').catch(() => '') : '')));
  const index = answers.findIndex((text) => text.includes(`sid=0x${sessionId.replace(/^0+/, '')}`));
  return index === -1 ? undefined : index;
}

t.test('kill -9 the leader: sessions survive, and a provider change made during the election reaches every consumer', async (t) => {
  const provider = open(t, '/e1');
  await provider.register(SERVICE, instance(9301));
  const consumers = [0, 1, 2, 3].map(() => open(t, '/e1'));
  const lists = consumers.map(() => new ListRecorder());
  consumers.forEach((consumer, i) => consumer.subscribe(SERVICE, lists[i]!.listener));
  for (const list of lists) await list.until(['127.0.0.1:9301']);
  const sessions = [provider, ...consumers].map((r) => r.sessionId);

  const leader = await ensemble.waitForLeader();
  await ensemble.kill(leader);
  const registering = provider.register(SERVICE, instance(9302));
  await ensemble.waitForNewLeader(leader);
  const leaderUpAt = Date.now();
  await registering;
  const after = await Promise.all(lists.map(async (list) => {
    await list.until(['127.0.0.1:9301', '127.0.0.1:9302'], 15_000);
    return Date.now() - leaderUpAt;
  }));
  t.comment(`the change reached the consumers ${after.map((ms) => `${ms} ms`).join(', ')} after the new leader was up`);
  t.ok(lists.every((list) => list.lists.every((l) => l.includes('127.0.0.1:9301'))), `no consumer ever lost the provider: ${JSON.stringify(lists.map((l) => l.lists))}`);
  t.same([provider, ...consumers].map((r) => r.events.count('expired')), [0, 0, 0, 0, 0], `no session was lost: ${JSON.stringify([provider, ...consumers].map((r) => r.events.events))}`);
  t.same([provider, ...consumers].map((r) => r.sessionId), sessions, 'every registry kept its session');
  await ensemble.start(leader);
  await ensemble.waitForAllServing();
});

t.test('a server cut off from its peers: a consumer connected to it moves, keeps its session, and sees the changes', async (t) => {
  const provider = open(t, '/e2');
  await provider.register(SERVICE, instance(9401));
  const consumers = [0, 1, 2, 3, 4, 5].map(() => open(t, '/e2'));
  const lists = consumers.map(() => new ListRecorder());
  consumers.forEach((consumer, i) => consumer.subscribe(SERVICE, lists[i]!.listener));
  for (const list of lists) await list.until(['127.0.0.1:9401']);
  // The library picks a server at random: cut off the one most consumers use.
  const servers = await Promise.all(consumers.map((c) => serverOf(c.sessionId!)));
  const counts = [0, 1, 2].map((i) => servers.filter((s) => s === i).length);
  const victim = counts.indexOf(Math.max(...counts));
  const moving = consumers.filter((_, i) => servers[i] === victim);
  t.ok(moving.length > 0, `${moving.length} consumer(s) on server ${victim}`);
  const sessions = moving.map((c) => c.sessionId);
  const marks = moving.map((c) => c.events.events.length);

  ensemble.partition(victim);
  t.teardown(() => ensemble.heal());
  // The server closes its sessions' connections once it has lost its quorum; they move elsewhere.
  await Promise.all(moving.map((c, i) => c.events.next('connected', marks[i]!, 20_000)));
  await provider.register(SERVICE, instance(9402));
  for (const list of lists) await list.until(['127.0.0.1:9401', '127.0.0.1:9402'], 20_000);
  const now = await Promise.all(moving.map((c) => serverOf(c.sessionId!)));
  t.ok(now.every((s) => s !== undefined && s !== victim), `they moved to servers ${now.join(', ')}`);
  t.same(moving.map((c) => c.sessionId), sessions, 'on the same sessions');
  t.ok(lists.every((list) => list.lists.every((l) => l.includes('127.0.0.1:9401'))), 'no consumer ever lost the provider');

  ensemble.heal();
  await ensemble.waitForAllServing();
  await waitFor('server to serve again', () => ensemble.serving(victim));
});
