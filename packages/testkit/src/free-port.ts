import { createServer } from 'node:net';

/**
 * A port the OS says is free on 127.0.0.1 right now (tests never assume fixed ports), for a server
 * to listen on. Not a dead address: once given back, any process may take it — use refusingPort().
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `count` distinct free ports: all are held open together before any is released. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/**
 * What etcd ("bind: address already in use"), the JVM ("BindException: Address already in use") and
 * Node ("listen EADDRINUSE: address already in use", in the stack a provider child reports) say.
 */
const ADDRESS_IN_USE = /address already in use/i;

/**
 * Runs `start` (which picks its ports with freePort and fails, with the server's log in its message,
 * when the server cannot bind them) again on fresh ports when a port was taken in between: between
 * freePort() releasing a port and the server binding it (seconds, for a JVM on a loaded machine),
 * any process's outgoing connection may get it as its local port, or another test's server may bind
 * it. Up to `attempts` starts in all; any other failure is thrown at once.
 *
 * For a port that must be known before a process starts (a child told it on its command line or in
 * its options). Where the server can listen on port 0 and tell the test which port it got, do that
 * instead: nothing to retry.
 */
export async function onFreePorts<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !ADDRESS_IN_USE.test(error instanceof Error ? error.message : String(error))) throw error;
    }
  }
}

/**
 * Launches a multi-member cluster on fresh ports (see onFreePorts): a launch that fails stops every
 * member it started before the next try on new ports.
 */
export function launchOnFreePorts<T extends { launch(): Promise<void>; stop(): Promise<void> }>(create: () => T): Promise<T> {
  return onFreePorts(async () => {
    const cluster = create();
    try {
      await cluster.launch();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  });
}
