import type { Socket } from 'node:net';
import type { Client } from 'node-zookeeper-client';
import { librarySocket } from './zk-internals.js';

export interface StallLimits {
  /** Established socket, no handshake answer yet. */
  readonly handshakeMs: number;
  /** Connected: the server answers pings every third of the session timeout, so silence is a failure. */
  readonly readMs: () => number;
}

/**
 * node-zookeeper-client 1.1.3 has no read timeout. A server that accepts a connection and never
 * answers leaves it waiting forever: ZooKeeper 3.8 does exactly that to connections that arrive while
 * it is starting (seen in the restart tests: the request sits unread in the socket), and a frozen
 * server does it too. The Java client redials after `connectTimeout` without a handshake answer and
 * after 2/3 of the session timeout of silence; this does the same by destroying the library's socket,
 * after which the library redials on its own, session intact.
 */
export class StallWatchdog {
  private readonly timer: NodeJS.Timeout;
  private socket: Socket | undefined;
  private lastActivity = 0;

  constructor(
    private readonly client: Client,
    private readonly limits: StallLimits,
    private readonly isConnected: () => boolean,
  ) {
    const interval = Math.max(50, Math.floor(Math.min(limits.handshakeMs, limits.readMs()) / 4));
    this.timer = setInterval(() => this.check(), interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const socket = librarySocket(this.client);
    if (!socket) return;
    if (socket !== this.socket) {
      this.socket = socket;
      this.lastActivity = Date.now();
      socket.on('data', () => (this.lastActivity = Date.now()));
      socket.on('connect', () => (this.lastActivity = Date.now()));
      return;
    }
    // Still dialling: the library's own connect timeout covers that part.
    if (socket.connecting || socket.destroyed) return;
    const limit = this.isConnected() ? this.limits.readMs() : this.limits.handshakeMs;
    if (Date.now() - this.lastActivity > limit) socket.destroy();
  }
}
