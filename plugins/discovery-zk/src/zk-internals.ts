import type { Socket } from 'node:net';
import type { Client } from 'node-zookeeper-client';

/**
 * The only places that reach into node-zookeeper-client 1.1.3's private fields, each checked at
 * runtime so a different version degrades to doing nothing. They exist because the library lacks
 * three things the Java client has: a read timeout, a way to stop a client that is still dialling,
 * and resilience to error codes newer than it (ZooKeeper 3.7+ can answer THROTTLEDOP or
 * QUOTAEXCEEDED, which the library turns into an exception thrown from a socket handler — an
 * uncaught exception that would end the process).
 */
interface ConnectionManagerInternals {
  socket?: Socket;
  onSocketData?: (buffer: Buffer) => void;
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
