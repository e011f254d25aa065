import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Code, RpcClient, RpcError } from '../src/index.js';
import { ECHO } from './fixtures/json-service.js';
import { refusingAddress } from './fixtures/refusing-port.js';

// A call whose only provider could not take it fails UNAVAILABLE "every usable provider … was already
// tried": the kernel re-sends a call that never ran elsewhere, and there is nowhere else. What the
// attempt met — the cause a user can act on — is in the message and is the error's cause. Before,
// a client pointed at a stopped server or at the wrong port learnt only that the provider "was
// already tried".

t.test('a refused dial: the UNAVAILABLE says ECONNREFUSED', async (t) => {
  const dead = await refusingAddress();
  t.teardown(() => dead.close());
  const client = new RpcClient({ service: ECHO, addresses: [dead.address] });
  t.teardown(() => client.close());
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.type(error, RpcError);
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /was already tried by this call/);
  t.match(error.message, new RegExp(`the last attempt, to ${dead.address.replace(/\./g, '\\.')}, failed: .*ECONNREFUSED`));
  t.type(error.cause, RpcError, 'the attempt\'s own error is the cause');
  t.equal(error.endpoint, undefined, 'no endpoint is blamed: there was nowhere to send it (what retry reads)');
});

t.test('a port that is not a Trellis server: the UNAVAILABLE says so', async (t) => {
  const http = createServer((_request, response) => response.end('not an RPC server'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { http.closeAllConnections(); http.close(() => resolve()); }));
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${(http.address() as AddressInfo).port}`] });
  t.teardown(() => client.close());
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /failed: .*not a Trellis peer/);
});
