import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SnapshotStore } from '../src/spi.js';

const QUERY = { group: 'default', name: 'demo.Echo' };
const ENDPOINT = { id: '127.0.0.1:1', host: '127.0.0.1', port: 1, weight: 100, version: '1.0.0', tags: {} };

const configFiles = (dir: string): string[] => readdirSync(join(dir, 'config')).map((f) => join(dir, 'config', f));

t.test('rule documents: saved, replaced, deleted; missing reads as undefined', async (t) => {
  const store = new SnapshotStore(join(t.testdir(), 'nested'));
  t.equal(store.loadConfig('etcd/trellis', QUERY, 'routes'), undefined, 'nothing saved yet (and no directory)');
  store.saveConfig('etcd/trellis', QUERY, 'routes', '{"rules":[1]}');
  t.same(store.loadConfig('etcd/trellis', QUERY, 'routes'), { document: '{"rules":[1]}' });
  store.saveConfig('etcd/trellis', QUERY, 'routes', '');
  t.same(store.loadConfig('etcd/trellis', QUERY, 'routes'), { document: '' }, 'an empty document is a document');
  store.saveConfig('etcd/trellis', QUERY, 'routes', undefined);
  const deleted = store.loadConfig('etcd/trellis', QUERY, 'routes');
  t.ok(deleted, 'a deletion is a snapshot too');
  t.ok(deleted && 'document' in deleted && deleted.document === undefined, '{ document: undefined }');
  t.equal(store.loadConfig('etcd/trellis', QUERY, 'breaker'), undefined, 'another name has its own file');
  t.equal(store.loadConfig('etcd/other', QUERY, 'routes'), undefined, 'another registry has its own file');
  t.equal(store.loadConfig('etcd/trellis', { ...QUERY, group: 'g2' }, 'routes'), undefined, 'another group has its own file');
  t.equal(configFiles(store.directory).length, 1, 'one file, no temp file left behind');
});

t.test('names that would collide when joined stay apart', async (t) => {
  const store = new SnapshotStore(t.testdir());
  store.saveConfig('r', { group: 'a__b', name: 'c' }, 'd', 'one');
  store.saveConfig('r', { group: 'a', name: 'b__c' }, 'd', 'two');
  store.saveConfig('r/x', QUERY, 'd', 'three');
  store.saveConfig('r_x', QUERY, 'd', 'four');
  t.same(store.loadConfig('r', { group: 'a__b', name: 'c' }, 'd'), { document: 'one' });
  t.same(store.loadConfig('r', { group: 'a', name: 'b__c' }, 'd'), { document: 'two' });
  t.same(store.loadConfig('r/x', QUERY, 'd'), { document: 'three' });
  t.same(store.loadConfig('r_x', QUERY, 'd'), { document: 'four' });
});

t.test('a provider list and a rule document never share a file; the list files are unchanged', async (t) => {
  const dir = t.testdir();
  const store = new SnapshotStore(dir);
  // A service named like "<service>__<document>" would map to the same readable name.
  store.save('etcd', { group: 'default', name: 'demo.Echo__routes' }, [ENDPOINT]);
  store.saveConfig('etcd', QUERY, 'routes', 'rules');
  t.same(readdirSync(dir).sort(), ['config', 'etcd__default__demo.Echo__routes.json'], 'the list file keeps its name');
  t.same(store.load('etcd', { group: 'default', name: 'demo.Echo__routes' }), [ENDPOINT]);
  t.same(store.loadConfig('etcd', QUERY, 'routes'), { document: 'rules' });
  t.equal(store.load('etcd', QUERY), undefined, 'no list for the service itself');
  t.equal(store.loadConfig('etcd', { group: 'default', name: 'demo.Echo__routes' }, 'x'), undefined);
});

t.test('a corrupt, truncated or foreign config snapshot reads as undefined, never throws', async (t) => {
  const store = new SnapshotStore(t.testdir());
  store.saveConfig('etcd', QUERY, 'routes', 'rules');
  const [file] = configFiles(store.directory);
  const good = readFileSync(file!, 'utf8');
  const bad: [string, string][] = [
    ['garbage', 'not json {'],
    ['truncated', good.slice(0, good.length - 5)],
    ['null', 'null'],
    ['a number', '42'],
    ['no document although present', JSON.stringify({ ...JSON.parse(good), document: undefined })],
    ['a non-string document', JSON.stringify({ ...JSON.parse(good), document: 7 })],
    ['no present flag', JSON.stringify({ id: JSON.parse(good).id, document: 'rules' })],
    ['another document copied over it', JSON.stringify({ ...JSON.parse(good), id: '["etcd","default","demo.Echo","other"]' })],
  ];
  for (const [what, text] of bad) {
    writeFileSync(file!, text);
    t.equal(store.loadConfig('etcd', QUERY, 'routes'), undefined, what);
  }
});

t.test('an unwritable directory: saveConfig does not throw, loadConfig reads undefined', async (t) => {
  const dir = t.testdir({ blocker: 'a file where the directory should be' });
  const store = new SnapshotStore(join(dir, 'blocker'));
  t.doesNotThrow(() => store.saveConfig('etcd', QUERY, 'routes', 'rules'));
  t.equal(store.loadConfig('etcd', QUERY, 'routes'), undefined);
});
