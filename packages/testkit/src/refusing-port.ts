import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A loopback address that refuses every connection for as long as it is held. */
export interface RefusingPort {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:<port>`, as client addresses are written. */
  readonly address: string;
  /** Gives the port back (idempotent). */
  close(): Promise<void>;
}

export interface RefusingPortOptions {
  /**
   * A port a server of the test just gave up (a provider killed, to be started again on the same
   * address), instead of one the OS picks: see below.
   */
  readonly port?: number;
}

/**
 * A port on 127.0.0.1 where every connection is refused (ECONNREFUSED at once: the request never
 * ran), and that no other process can take while it is held — a dead address that stays dead.
 *
 * Why not `freePort()` and nothing listening: once that port is given back, any process may listen
 * on it (another test's server asking for port 0 gets it, or binds the number its own freePort()
 * returned), and the "dead" address then answers — rarely (≈ 1e-4 of runs), but on a clean CI run.
 *
 * How: the port is the local end of a connection this process keeps open to a listener of its own.
 * Such a socket is bound but not listening, so the kernel answers a SYN to it with a reset (refused,
 * not a timeout); and it was bound by connect(), without SO_REUSEADDR, so Linux refuses every other
 * bind of that port — 127.0.0.1, 0.0.0.0 or :: alike, with or without SO_REUSEADDR — and never
 * hands it out for port 0. (Node cannot bind a TCP socket without listening; a listening server that
 * destroys what it accepts is not refused: the connection is made, then reset, and a request may be
 * written into it.)
 *
 * Refused, not silent: for a dead provider, a refused dial, a never-ran failure a transparent re-send
 * handles. A peer that accepts and never answers (a frozen process) is another fault: FaultProxy's
 * black hole, or SIGSTOP. The sockets are unref'd: a test that forgets `close()` still exits.
 *
 * With `port`: the port a server gave up stays refused (a dead provider's address) while the server is
 * down, and the OS hands it to no one in the meantime — not to a listen on port 0, not as the local
 * port of an outgoing connection — where a freed port could be taken by any process during seconds of
 * downtime, and the restart then fail with EADDRINUSE (or the dead address answer). The socket is then
 * bound before it connects, which libuv does with SO_REUSEADDR: a server that listens on that very
 * port by number (with SO_REUSEADDR, as Node's do) may take it back while it is held — the restart —
 * and so could any process asking for that number. What it cannot cover is the moment between the
 * server's exit and this call: take the port as soon as the server is gone.
 */
export async function refusingPort(options: RefusingPortOptions = {}): Promise<RefusingPort> {
  const holder = createServer();
  holder.unref();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  const target = { port: (holder.address() as AddressInfo).port, host: '127.0.0.1' };
  const held = connect(options.port === undefined ? target : { ...target, localAddress: '127.0.0.1', localPort: options.port });
  held.on('error', () => {});
  let accepted: Socket;
  try {
    [[accepted]] = await Promise.all([once(holder, 'connection') as Promise<[Socket]>, once(held, 'connect')]);
  } catch (error) {
    held.destroy();
    holder.close();
    if (options.port === undefined) throw error;
    throw new Error(`cannot hold port ${options.port} on 127.0.0.1: ${(error as Error).message}`, { cause: error });
  }
  accepted.on('error', () => {});
  accepted.unref();
  held.unref();
  const port = held.localPort!;
  let closed: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    // The listener's side closes first, so the TIME_WAIT that follows a close is on the holder's
    // port, not on this one: given back, it can be listened on again at once.
    close: () => (closed ??= (async () => {
      const heldClosed = held.closed ? Promise.resolve() : once(held, 'close');
      held.ref(); // until it is closed
      accepted.destroy();
      holder.close();
      await heldClosed;
    })()),
  };
}
