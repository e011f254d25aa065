// Digest authentication and the `creator-writes` ACL against a real ZooKeeper 3.8: anyone reads, only
// the registry's digest user writes, a refused write is a coded error naming the path, and a session
// re-created after an expiry authenticates again before it registers again.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { ACL, Exception, Id, Permission, State, type Client } from 'node-zookeeper-client';
import { startZooKeeper } from '@trellis/testkit';
import type { TrellisError } from '@trellis/core';
import { RegistryPaths } from '@trellis/core/spi';
import { ZooKeeperRegistry, zookeeperRegistry, type ZooKeeperRegistryOptions } from '../src/index.js';
import { LostRequestError, ZkHandle } from '../src/zk-handle.js';
import {
  closeRaw, instance, ListRecorder, ProviderProcess, rawClient, readNode, SERVICE, waitFor, zkCall,
} from './fixtures/helpers.js';

const ALICE = 'alice:alice-s3cret';
const MALLORY = 'mallory:mallory-s3cret';
const SECRETS = ['alice-s3cret', 'mallory-s3cret', 's3cret'];

interface AclEntry {
  readonly perms: number;
  readonly scheme: string;
  readonly id: string;
}

/** What ZooKeeper stores for a digest user: `user:base64(sha1("user:password"))`. */
function digestId(credentials: string): string {
  return `${credentials.slice(0, credentials.indexOf(':'))}:${createHash('sha1').update(credentials).digest('base64')}`;
}

/** ALL for alice's digest identity, READ for everyone: exactly these two entries. */
const CREATOR_WRITES: AclEntry[] = [
  { perms: 31, scheme: 'digest', id: digestId(ALICE) },
  { perms: 1, scheme: 'world', id: 'anyone' },
];

function readAcl(client: Client, path: string): Promise<AclEntry[]> {
  return zkCall<ACL[]>((cb) => client.getACL(path, (error, acls) => cb(error, acls))).then((acls) =>
    // The library's ACL objects carry `permission`; @types/node-zookeeper-client calls it `perms`.
    acls.map((acl) => ({ perms: (acl as unknown as { permission: number }).permission, scheme: acl.id.scheme, id: acl.id.id })),
  );
}

/** The path and every ancestor below `/`: all of them were created by the registry. */
function withAncestors(path: string): string[] {
  const parts = path.split('/').slice(1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

async function refusal(promise: Promise<unknown>): Promise<TrellisError> {
  try {
    await promise;
  } catch (error) {
    return error as TrellisError;
  }
  throw new Error('expected a rejection');
}

function assertNoSecret(t: Test, text: string, what: string): void {
  t.notOk(SECRETS.some((secret) => text.includes(secret)), `${what} shows no password: ${text}`);
}

t.test('auth and acl options are validated without echoing the password', async (t) => {
  const cases: [string, Partial<Record<keyof ZooKeeperRegistryOptions, unknown>>, RegExp?][] = [
    ['acl', { acl: 'creator-writes' }, /together with auth/],
    ['acl', { acl: 'closed', auth: { scheme: 'digest', credentials: ALICE } }],
    ['auth', { auth: ALICE }, /"alice:\*\*\*"/],
    ['auth', { auth: null }],
    ['auth.scheme', { auth: { scheme: 'sasl', credentials: ALICE } }, /"sasl"/],
    ['auth.scheme', { auth: { scheme: ALICE, credentials: ALICE } }, /"alice:\*\*\*"/],
    ['auth.credentials', { auth: { scheme: 'digest', credentials: 's3cret' } }, /is "\*\*\*"/],
    ['auth.credentials', { auth: { scheme: 'digest', credentials: ':s3cret' } }],
    ['auth.credentials', { auth: { scheme: 'digest', credentials: 'alice:' } }],
    ['auth.credentials', { auth: { scheme: 'digest' } }],
    ['auth.credentials', { auth: { scheme: 'digest', credentials: 12345 } }],
  ];
  for (const [name, options, message] of cases) {
    const error = (() => {
      try {
        new ZooKeeperRegistry({ connectString: '127.0.0.1:2181', snapshotDir: false, ...options } as ZooKeeperRegistryOptions);
      } catch (e) {
        return e as TrellisError;
      }
      return undefined;
    })();
    const label = `${name}: ${JSON.stringify(options).replace(/s3cret/g, '…')}`;
    t.match(error, { name: 'TrellisError', code: 'ERR_INVALID_OPTION', message: new RegExp(`option "${name.replace('.', '\\.')}"`) }, label);
    if (message) t.match(error?.message, message, `${label}: says what was passed and what to pass`);
    assertNoSecret(t, error?.message ?? '', label);
  }
  const valid = { connectString: '127.0.0.1:2181', snapshotDir: false } as const;
  t.doesNotThrow(() => zookeeperRegistry({ ...valid, auth: { scheme: 'digest', credentials: ALICE } }), 'auth alone: open ACL');
  t.doesNotThrow(() => zookeeperRegistry({ ...valid, auth: { scheme: 'digest', credentials: 'alice:pa:ss' } }), 'a ":" in the password');
  t.doesNotThrow(() => zookeeperRegistry({ ...valid, acl: 'open' }));
  t.doesNotThrow(() => zookeeperRegistry({ ...valid, auth: { scheme: 'digest', credentials: ALICE }, acl: 'creator-writes' }));
});

t.test('with credentials, nothing is queued ahead of them while the client is not connected', async (t) => {
  const calls: unknown[][] = [];
  let state = State.DISCONNECTED;
  const client = {
    getState: () => state,
    create: (...args: unknown[]) => {
      calls.push(args);
      (args[args.length - 1] as (error: null, path: string) => void)(null, args[0] as string);
    },
  } as unknown as Client;
  const acl = [{ marker: 'the configured ACL' }] as unknown as ACL[];
  const handle = new ZkHandle(client, 1000, { acl, authenticated: true });
  await t.rejects(handle.create('/a', Buffer.alloc(0)), LostRequestError, 'refused while disconnected: the library would send it before the credentials');
  t.equal(calls.length, 0, 'never reached the library');
  state = State.SYNC_CONNECTED;
  t.equal(await handle.create('/a', Buffer.alloc(0)), '/a');
  t.equal(calls[0]?.[2], acl, 'created with the configured ACL');
  // Without credentials nothing can overtake anything: the library's queueing is kept.
  state = State.DISCONNECTED;
  const open = new ZkHandle(client, 1000, { acl, authenticated: false });
  t.equal(await open.create('/b', Buffer.alloc(0)), '/b');
});

t.test('digest auth and creator-writes on a real ZooKeeper', async (t) => {
  const zk = await startZooKeeper({ tickTime: 500 });
  t.teardown(() => zk.stop());
  const anonymous = await rawClient(zk.connectString);
  t.teardown(() => closeRaw(anonymous));
  const mallory = await rawClient(zk.connectString);
  t.teardown(() => closeRaw(mallory));
  mallory.addAuthInfo('digest', Buffer.from(MALLORY));
  // ZooKeeper shows a digest hash only to a client with ADMIN on the node (others see "alice:x").
  const admin = await rawClient(zk.connectString);
  t.teardown(() => closeRaw(admin));
  admin.addAuthInfo('digest', Buffer.from(ALICE));

  const open = (root: string, options: Partial<ZooKeeperRegistryOptions> = {}): ZooKeeperRegistry => {
    const registry = zookeeperRegistry({ connectString: zk.connectString, root, snapshotDir: false, debounceMs: 20, ...options });
    t.teardown(() => registry.close());
    return registry;
  };
  const alice = { auth: { scheme: 'digest', credentials: ALICE }, acl: 'creator-writes' } as const;

  // One secured tree for the subtests below: a provider registered by alice, and a rule document.
  const root = '/secure';
  const reported: TrellisError[] = [];
  const provider = open(root, { ...alice, onError: (e) => reported.push(e) });
  await provider.register(SERVICE, instance(9001));
  let document = '{"rules":"v1"}';
  await provider.putConfig(SERVICE, 'routes', document);
  const providerPath = RegistryPaths.provider(root, SERVICE, '127.0.0.1', 9001);
  const configPath = RegistryPaths.config(root, SERVICE, 'routes');

  t.test('a consumer without credentials discovers the provider and reads the document', async (t) => {
    const consumer = open(root);
    const recorder = new ListRecorder();
    consumer.subscribe(SERVICE, recorder.listener);
    await recorder.until(['127.0.0.1:9001']);
    const docs: (string | undefined)[] = [];
    consumer.watchConfig(SERVICE, 'routes', (doc) => docs.push(doc));
    await waitFor('the document', () => docs.includes(document));
    t.equal((await readNode(anonymous, providerPath))?.owner, provider.sessionId, 'ephemeral, owned by the provider session');

    // Another registry of the same digest user writes to the same tree.
    const second = open(root, alice);
    await second.register(SERVICE, instance(9002));
    await recorder.until(['127.0.0.1:9001', '127.0.0.1:9002']);
    document = '{"rules":"v2"}';
    await second.putConfig(SERVICE, 'routes', document);
    await waitFor('the changed document', () => docs.at(-1) === document);
    await second.deregister(SERVICE, instance(9002));
    await recorder.until(['127.0.0.1:9001']);
  });

  t.test('every node the registry created has exactly the two ACL entries', async (t) => {
    for (const path of [...withAncestors(providerPath), ...withAncestors(configPath).slice(1)]) {
      t.same(await readAcl(admin, path), CREATOR_WRITES, path);
    }
    t.same(await readAcl(anonymous, configPath), [{ ...CREATOR_WRITES[0], id: 'alice:x' }, CREATOR_WRITES[1]], 'others see the user, not the hash');
    // The default stays OPEN_ACL_UNSAFE, with or without credentials.
    const plain = open('/plain', { auth: { scheme: 'digest', credentials: ALICE } });
    await plain.register(SERVICE, instance(9001));
    const plainPath = RegistryPaths.provider('/plain', SERVICE, '127.0.0.1', 9001);
    for (const path of withAncestors(plainPath)) {
      t.same(await readAcl(anonymous, path), [{ perms: 31, scheme: 'world', id: 'anyone' }], `${path} (acl: open)`);
    }
  });

  t.test('clients without credentials, or with another user, are refused with NO_AUTH', async (t) => {
    const rogue = `${RegistryPaths.providers(root, SERVICE)}/10.6.6.6:666`;
    for (const [who, client] of [['no credentials', anonymous], ['mallory', mallory]] as const) {
      const attacks: [string, (cb: (error: Error | Exception | null) => void) => void][] = [
        ['delete the provider node', (cb) => client.remove(providerPath, cb)],
        ['register a rogue provider', (cb) => client.create(rogue, Buffer.from('{}'), (error) => cb(error))],
        ['overwrite the document', (cb) => client.setData(configPath, Buffer.from('{"rules":"evil"}'), (error) => cb(error))],
        ['delete the document', (cb) => client.remove(configPath, cb)],
        ['open the document up', (cb) => client.setACL(configPath, [new ACL(Permission.ALL, new Id('world', 'anyone'))], (error) => cb(error))],
      ];
      for (const [what, attack] of attacks) {
        await t.rejects(zkCall(attack), { code: Exception.NO_AUTH }, `${who}: ${what}`);
      }
    }
    t.equal((await readNode(anonymous, providerPath))?.owner, provider.sessionId, 'the provider node is intact');
    t.equal((await readNode(anonymous, configPath))?.data, document, 'the document is intact');
    t.equal(await readNode(anonymous, rogue), undefined, 'no rogue provider');
  });

  t.test('a registry without alice\'s credentials gets ERR_REGISTRY_REQUEST_FAILED naming the path', async (t) => {
    const errors: TrellisError[] = [];
    const outsider = open(root, { onError: (e) => errors.push(e) });
    const refused = await refusal(outsider.putConfig(SERVICE, 'routes', '{"rules":"evil"}'));
    t.match(refused, { code: 'ERR_REGISTRY_REQUEST_FAILED', message: configPath }, 'putConfig rejects');
    t.match(refused.message, /ACL refused .*NO_AUTH.*without credentials.*auth: \{ scheme: 'digest'/, refused.message);
    await t.rejects(outsider.putConfig(SERVICE, 'routes', undefined), { code: 'ERR_REGISTRY_REQUEST_FAILED', message: configPath }, 'a delete too');
    await t.rejects(outsider.register(SERVICE, instance(9003)), { code: 'ERR_REGISTRY_REQUEST_FAILED', message: RegistryPaths.provider(root, SERVICE, '127.0.0.1', 9003) }, 'register rejects');

    const other = open(root, { auth: { scheme: 'digest', credentials: MALLORY }, acl: 'creator-writes', onError: (e) => errors.push(e) });
    const wrongUser = await refusal(other.putConfig(SERVICE, 'routes', '{"rules":"evil"}'));
    t.match(wrongUser, { code: 'ERR_REGISTRY_REQUEST_FAILED', message: /digest user "mallory"/ }, wrongUser.message);
    await t.rejects(other.register(SERVICE, instance(9004)), { code: 'ERR_REGISTRY_REQUEST_FAILED', message: /digest user "mallory"/ });
    for (const error of [refused, wrongUser, ...errors]) assertNoSecret(t, error.message, 'error');

    t.equal((await readNode(anonymous, configPath))?.data, document, 'the document is unchanged');
    t.ok(outsider.connected && other.connected, 'the registries are still usable');
    t.same(errors.map((e) => e.code), [], 'a refused register() is thrown, not also reported');
  });

  t.test('a session re-created after an expiry authenticates again and re-creates the node with the ACL', async (t) => {
    const expiryRoot = '/expiry';
    const child = new ProviderProcess({ connectString: zk.connectString, port: 9301, sessionTimeoutMs: 2000, root: expiryRoot, auth: ALICE, acl: 'creator-writes' });
    t.teardown(() => child.stop());
    const registered = await child.next('registered', 0, 60_000);
    const path = RegistryPaths.provider(expiryRoot, SERVICE, '127.0.0.1', 9301);
    t.equal((await readNode(anonymous, path))?.owner, registered.sessionId);
    t.same(await readAcl(admin, path), CREATOR_WRITES, 'created with the ACL');

    const consumer = open(expiryRoot);
    const recorder = new ListRecorder();
    consumer.subscribe(SERVICE, recorder.listener);
    await recorder.until(['127.0.0.1:9301']);
    // Frozen past its session timeout: the server expires the session and deletes the node.
    child.kill('SIGSTOP');
    await recorder.until([], 8000);
    const mark = child.messages.length;
    child.kill('SIGCONT');
    await child.next('expired', mark);
    const resynced = await child.next('resynced', mark, 30_000, (m) => m.sessionId !== registered.sessionId);
    await recorder.until(['127.0.0.1:9301']);
    // The parents are alice's: only an authenticated session could create a child there, and the
    // `auth` ACL id would be refused (INVALID_ACL) on a session without credentials.
    t.equal((await readNode(anonymous, path))?.owner, resynced.sessionId, 're-created on the new session');
    t.same(await readAcl(admin, path), CREATOR_WRITES, 'with the same ACL');
    await t.rejects(zkCall((cb) => anonymous.remove(path, cb)), { code: Exception.NO_AUTH }, 'and still protected');
    t.match(child.messages.filter((m) => m.type === 'error'), [{ code: 'ERR_REGISTRY_SESSION_EXPIRED' }], 'the expiry was reported, no refused write');
  });

  t.test('nothing was reported by the secured provider', async (t) => {
    t.same(reported.map((e) => `${e.code}: ${e.message}`), []);
  });
});
