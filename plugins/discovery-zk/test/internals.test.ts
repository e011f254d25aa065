// Guards around node-zookeeper-client's private fields, checked with stand-ins (no server needed).
import t from 'tap';
import type { Client } from 'node-zookeeper-client';
import { dropConnection, guardReplies, librarySocket } from '../src/zk-internals.js';

t.test('an unreadable reply drops the connection instead of throwing out of the socket handler', async (t) => {
  let destroyed = 0;
  const socket = { destroy: () => destroyed++, on: () => undefined };
  const manager = {
    socket,
    onSocketData(): void {
      // What the library does for an error code newer than it (THROTTLEDOP, QUOTAEXCEEDED).
      throw new Error('Unknown code: -127');
    },
  };
  const failures: unknown[] = [];
  guardReplies({ connectionManager: manager } as unknown as Client, (error) => failures.push(error));
  t.doesNotThrow(() => manager.onSocketData.call(manager));
  t.match(failures, [{ message: 'Unknown code: -127' }]);
  t.equal(destroyed, 1, 'the socket was dropped, so the library redials');
});

t.test('an unexpected client shape is left alone', async (t) => {
  const client = {} as unknown as Client;
  t.doesNotThrow(() => guardReplies(client, () => t.fail('no failure')));
  t.equal(librarySocket(client), undefined);
  t.doesNotThrow(() => dropConnection(client));
  t.equal(librarySocket({ connectionManager: { socket: {} } } as unknown as Client), undefined, 'not a socket');
});
