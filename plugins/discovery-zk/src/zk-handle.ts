import { CreateMode, Exception, State, type ACL, type Client, type Event, type Stat } from 'node-zookeeper-client';
import { dropConnection } from './zk-internals.js';

/**
 * A request that will never be answered: its client was replaced or closed (the library would keep
 * it queued forever), or no answer came in time. Like a lost connection, the next connection repairs
 * whatever it was for.
 */
export class LostRequestError extends Error {
  override readonly name = 'LostRequestError';
}

/** The numeric ZooKeeper error code of a library exception, if it is one. */
export function zkCode(error: unknown): number | undefined {
  const e = error as { getCode?: () => number; code?: unknown } | undefined;
  if (typeof e?.getCode === 'function') return e.getCode();
  return typeof e?.code === 'number' ? e.code : undefined;
}

/** Errors after which the next (re)connection repairs everything by itself: no point reporting them. */
export function isTransient(error: unknown): boolean {
  if (error instanceof LostRequestError) return true;
  const code = zkCode(error);
  return code === Exception.CONNECTION_LOSS || code === Exception.SESSION_EXPIRED || code === Exception.OPERATION_TIMEOUT;
}

export function hex(id: Buffer): string {
  return id.toString('hex');
}

export type Watcher = (event: Event) => void;

export interface HandleOptions {
  /** ACL of every node this handle creates, parents included. */
  readonly acl: ACL[];
  /** The client has credentials (addAuthInfo): requests must not overtake them (see `call`). */
  readonly authenticated: boolean;
}

/**
 * One node-zookeeper-client `Client` (one session) with promise-returning operations. Callbacks become
 * promises; synchronous asserts of the library become rejections; `discard()` settles whatever is
 * still pending so no caller waits on a dead client. A request unanswered after `requestTimeoutMs`
 * (longer than any disconnect the session survives) is failed, and the connection is dropped so the
 * reconnection re-applies everything.
 */
export class ZkHandle {
  private readonly pending = new Set<(error: Error) => void>();
  private discarded = false;

  constructor(
    readonly client: Client,
    private readonly requestTimeoutMs: number,
    private readonly options: HandleOptions,
  ) {}

  /** The session id in hex; all zeros until the first connection. */
  get sessionId(): string {
    return hex(this.client.getSessionId());
  }

  get isDiscarded(): boolean {
    return this.discarded;
  }

  create(path: string, data: Buffer, mode: number = CreateMode.PERSISTENT): Promise<string> {
    return this.call<string>((cb) => this.client.create(path, data, this.options.acl, mode, cb));
  }

  remove(path: string, version = -1): Promise<void> {
    return this.call<void>((cb) => this.client.remove(path, version, (error) => cb(error)));
  }

  /** The node's stat, or null when it does not exist. A watcher is armed either way. */
  exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    return this.call<Stat | null>((cb) =>
      watcher ? this.client.exists(path, watcher, cb) : this.client.exists(path, cb),
    );
  }

  getChildren(path: string, watcher?: Watcher): Promise<string[]> {
    return this.call<string[]>((cb) =>
      watcher ? this.client.getChildren(path, watcher, cb) : this.client.getChildren(path, cb),
    );
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | undefined; stat: Stat }> {
    return this.call((cb) => {
      const done = (error: unknown, data: Buffer, stat: Stat): void => cb(error, { data, stat });
      if (watcher) this.client.getData(path, watcher, done);
      else this.client.getData(path, done);
    });
  }

  setData(path: string, data: Buffer, version = -1): Promise<Stat> {
    return this.call<Stat>((cb) => this.client.setData(path, data, version, cb));
  }

  mkdirp(path: string): Promise<void> {
    return this.call<void>((cb) => this.client.mkdirp(path, this.options.acl, (error) => cb(error)));
  }

  /** Rejects pending operations and closes the client without waiting for the server. */
  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    const error = new LostRequestError('ZooKeeper session was replaced or closed');
    for (const reject of [...this.pending]) reject(error);
    this.pending.clear();
    try {
      this.client.close();
    } catch {
      // A client that never opened a socket throws from close(); there is nothing to close then.
    }
    // close() alone does not stop a client that is still dialling: it queues a CLOSE_SESSION that is
    // never sent while the library keeps reconnecting. Destroying its socket ends the loop; in the
    // CLOSING state the library does not dial again.
    dropConnection(this.client);
  }

  private call<T>(run: (cb: (error: unknown, value?: T) => void) => void): Promise<T> {
    if (this.discarded) return Promise.reject(new LostRequestError('ZooKeeper session was replaced or closed'));
    // The library queues a request made while it is (re)connecting and sends it right after the
    // handshake, ahead of the credentials it re-sends on every connection (they are queued only once
    // the socket is up): such a write would be refused with NO_AUTH. Fail it like a lost connection
    // instead; the reconnection re-applies whatever it was for.
    if (this.options.authenticated && !isConnected(this.client.getState())) {
      return Promise.reject(new LostRequestError('ZooKeeper client is not connected (requests wait for the credentials)'));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      // eslint-disable-next-line prefer-const -- assigned after fail() is defined, which clears it
      let timer: NodeJS.Timeout | undefined;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        reject(error);
      };
      this.pending.add(fail);
      timer = setTimeout(() => {
        fail(new LostRequestError(`no answer from ZooKeeper within ${this.requestTimeoutMs} ms`));
        dropConnection(this.client);
      }, this.requestTimeoutMs);
      timer.unref();
      try {
        run((error, value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.pending.delete(fail);
          if (error) reject(error instanceof Error ? error : new Error(String(error), { cause: error }));
          else resolve(value as T);
        });
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
}

function isConnected(state: State): boolean {
  return state === State.SYNC_CONNECTED || state === State.CONNECTED_READ_ONLY;
}
