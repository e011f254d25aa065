import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { startEtcd } from '../src/index.js';
import { onFreePorts } from '../src/free-port.js';

t.test('a server start that lost its port to another process is made again on fresh ports', async (t) => {
  // A port another process holds: what freePort() handed out can become, before the server binds it.
  const holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.teardown(() => void holder.close());
  const taken = (holder.address() as AddressInfo).port;

  await t.rejects(startEtcd({ port: taken }), /address already in use/i, 'a port the caller chose is not swapped for another');

  let starts = 0;
  const etcd = await onFreePorts(() => startEtcd(++starts === 1 ? { port: taken } : {}));
  t.teardown(() => etcd.stop());
  t.equal(starts, 2, 'started again after the bind failed');
  t.not(etcd.port, taken);

  starts = 0;
  await t.rejects(onFreePorts(async () => {
    starts++;
    throw new Error('etcd exited during start-up: unknown flag --nope');
  }), /unknown flag/);
  t.equal(starts, 1, 'any other failure is thrown at once');

  starts = 0;
  await t.rejects(onFreePorts(async () => {
    starts++;
    throw new Error('bind: address already in use');
  }), /address already in use/);
  t.equal(starts, 3, 'at most three starts');
});
