import type { Socket } from 'node:net';
import type { Client } from 'node-zookeeper-client';

/**
 * The only places that reach into node-zookeeper-client 1.1.3's private fields, each checked at
 * runtime so a different version degrades to doing nothing. They exist because the library lacks
 * four things the Java client has: a read timeout, a way to stop a client that is still dialling,
 * resilience to error codes newer than it (ZooKeeper 3.7+ can answer THROTTLEDOP or QUOTAEXCEEDED,
 * which the library turns into an exception thrown from a socket handler — an uncaught exception that
 * would end the process), and a redial pace that grows (see `paceRedials`).
 */
interface ConnectionManagerInternals {
  socket?: Socket;
  onSocketData?: (buffer: Buffer) => void;
  findNextServer?: (callback: (server: unknown) => void) => void;
  servers?: unknown[];
  nextServerIndex?: number;
  serverAttempts?: number;
  state?: number;
}

function manager(client: Client): ConnectionManagerInternals | undefined {
  const value = (client as unknown as { connectionManager?: unknown }).connectionManager;
  return typeof value === 'object' && value !== null ? (value as ConnectionManagerInternals) : undefined;
}

/** The client's current socket, if it has one. */
export function librarySocket(client: Client): Socket | undefined {
  const socket = manager(client)?.socket;
  return socket && typeof socket.destroy === 'function' && typeof socket.on === 'function' ? socket : undefined;
}

/** Drops the current connection; the library redials on its own and keeps the session. */
export function dropConnection(client: Client): void {
  librarySocket(client)?.destroy();
}

/**
 * Makes a reply the library cannot parse drop the connection instead of throwing out of the socket's
 * data handler. Must run before `connect()`: the handler is bound when the socket is created.
 */
export function guardReplies(client: Client, onFailure: (error: unknown) => void): void {
  const internals = manager(client);
  const original = internals?.onSocketData;
  if (!internals || typeof original !== 'function') return;
  internals.onSocketData = function guarded(this: ConnectionManagerInternals, buffer: Buffer): void {
    try {
      original.call(this, buffer);
    } catch (error) {
      onFailure(error);
      this.socket?.destroy();
    }
  };
}

export interface RedialPacing {
  /** The pause before the next round over the ensemble, once every server refused or failed. */
  nextDelay(): number;
  /** A dial reached a server (TCP connected); whether a session follows is for the state events to say. */
  reached(): void;
  /** A dial reached nothing (refused, unreachable): no server is there to refuse the session. */
  unreached(): void;
}

/**
 * Replaces the library's choice of the next server to dial. The library dials every server of the
 * ensemble in turn at once, then pauses a random 0–`spinDelay` before the next round: a fixed window
 * of at most a second or so, the same for a fleet of 5 clients or 5,000, so after an outage the whole
 * fleet reconnects within that second. Here the pause is the registry's own backoff — short at first
 * (a member failing over costs nothing: the next server is dialled at once), growing with jitter to a
 * window that scales with the fleet — and every dial that reaches a server is reported. Same order
 * and rounds as the library otherwise. Returns false (and changes nothing) on another library version.
 */
export function paceRedials(client: Client, pacing: RedialPacing): boolean {
  const internals = manager(client);
  if (
    !internals || typeof internals.findNextServer !== 'function' || !Array.isArray(internals.servers) ||
    typeof internals.nextServerIndex !== 'number' || typeof internals.serverAttempts !== 'number'
  ) {
    return false;
  }
  internals.findNextServer = function paced(this: Required<ConnectionManagerInternals>, callback: (server: unknown) => void): void {
    const dial = (): void => {
      // Closed (or expired) while pausing: the library must not open a socket any more.
      if (this.state < 0) return;
      callback(this.servers[this.nextServerIndex]);
      this.nextServerIndex += 1;
      const socket = this.socket;
      if (!socket) return;
      let connected = false;
      socket.once('connect', () => {
        connected = true;
        pacing.reached();
      });
      socket.once('error', () => {
        if (!connected) pacing.unreached();
      });
    };
    this.nextServerIndex %= this.servers.length;
    if (this.serverAttempts === this.servers.length) {
      const timer = setTimeout(() => {
        this.serverAttempts = 0;
        dial();
      }, pacing.nextDelay());
      // A registry alone must not keep a process alive; the server it serves does.
      timer.unref();
    } else {
      this.serverAttempts += 1;
      process.nextTick(dial);
    }
  };
  return true;
}
