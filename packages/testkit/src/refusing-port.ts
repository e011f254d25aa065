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
 */
export async function refusingPort(): Promise<RefusingPort> {
  const holder = createServer();
  holder.unref();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  const held = connect((holder.address() as AddressInfo).port, '127.0.0.1');
  held.on('error', () => {});
  let accepted: Socket;
  try {
    [[accepted]] = await Promise.all([once(holder, 'connection') as Promise<[Socket]>, once(held, 'connect')]);
  } catch (error) {
    held.destroy();
    holder.close();
    throw error;
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
