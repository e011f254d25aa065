import { CreateMode, Exception } from 'node-zookeeper-client';
import type { TrellisError } from '@trellis/core';
import { ZooKeeperErrorCodes } from './errors.js';
import { hex, isTransient, zkCode, type ZkHandle } from './zk-handle.js';
import type { ZkSession } from './session.js';

const MAX_ATTEMPTS = 5;

/**
 * The ephemeral provider nodes this registry wants, kept as desired state and re-applied on every new
 * session: after an expiry the new session re-creates them all. A node confirmed on the session that
 * comes back after a plain reconnect is still there — it lives as long as the session does — so only
 * what was not confirmed on it (a write cut short by the disconnect, a deregistration to finish) is
 * applied again: a fleet reconnecting after an outage sends no request for its registrations.
 * Operations on one path run one at a time, so a re-sync racing a register() can never create a node
 * twice.
 */
export class Registrations {
  private readonly desired = new Map<string, Buffer>();
  /** Paths deregistered while the write could not be confirmed; deleted on the next connection. */
  private readonly retired = new Set<string>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Path → the session its node was last confirmed on (created, or found owned with our data). */
  private readonly confirmed = new Map<string, string>();

  constructor(
    private readonly session: ZkSession,
    private readonly deadlineMs: number,
    private readonly onError: (error: TrellisError) => void,
  ) {}

  /**
   * Resolves once the node exists on the current session. If ZooKeeper cannot be reached in time, a
   * registry that never had a session rolls back and rejects (a wrong address must fail start-up);
   * one that had keeps the registration, reports the outage and writes it on reconnection.
   */
  async add(path: string, data: Buffer): Promise<void> {
    this.desired.set(path, data);
    this.retired.delete(path);
    this.confirmed.delete(path);
    try {
      await this.untilDone(path, () => this.desired.get(path) === data, (handle) => this.ensure(handle, path));
    } catch (error) {
      if (isOutage(error) && this.session.hasConnected) {
        this.onError(error as TrellisError);
        return;
      }
      if (this.desired.get(path) === data) {
        // The create may still land later (it can sit in the client's queue); the re-sync removes it.
        this.desired.delete(path);
        this.retired.add(path);
        const handle = this.session.current();
        if (handle) void this.sync(handle, path);
      }
      throw error;
    }
  }

  /** Deletes the node now, or, during an outage, on reconnection (or it goes with the session). */
  async remove(path: string): Promise<void> {
    this.desired.delete(path);
    this.retired.add(path);
    this.confirmed.delete(path);
    try {
      await this.untilDone(path, () => !this.desired.has(path), (handle) => this.deleteOwn(handle, path));
    } catch (error) {
      if (!isOutage(error)) throw error;
      this.onError(error as TrellisError);
    }
  }

  /**
   * Re-applies the desired state on a connection: everything on a new session, what was not confirmed
   * on it after a plain reconnect. Resolves when every such path was checked.
   */
  async resync(handle: ZkHandle, fresh: boolean): Promise<number> {
    const wanted = [...this.desired.keys()].filter((path) => fresh || this.confirmed.get(path) !== handle.sessionId);
    const paths = [...wanted, ...this.retired];
    await Promise.all(paths.map((path) => this.sync(handle, path)));
    return this.desired.size;
  }

  /** Best-effort removal of every node we own, bounded by the deadline (close()). */
  async removeAll(): Promise<void> {
    const paths = [...this.desired.keys()];
    this.desired.clear();
    for (const path of paths) this.retired.add(path);
    const handle = this.session.current();
    if (!handle || paths.length === 0) return;
    await Promise.race([
      Promise.all(paths.map((path) => this.sync(handle, path))),
      new Promise<void>((resolve) => setTimeout(resolve, this.deadlineMs).unref()),
    ]);
  }

  /** Never rejects: failures are repaired by the next re-sync or reported. */
  private sync(handle: ZkHandle, path: string): Promise<void> {
    return this.serial(path, async () => {
      try {
        if (this.desired.has(path)) await this.ensure(handle, path);
        else if (this.retired.has(path)) await this.deleteOwn(handle, path);
      } catch (error) {
        // A lost connection is repaired by the next re-sync; anything else is worth reporting.
        if (!isTransient(error)) this.onError(this.session.writeFailed('sync', path, error));
      }
    });
  }

  /**
   * Retries `op` on whatever session is current until it succeeds, `stillWanted` turns false, or the
   * deadline passes (then ERR_REGISTRY_UNREACHABLE from the session, or the last error).
   */
  private async untilDone(path: string, stillWanted: () => boolean, op: (handle: ZkHandle) => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      const handle = await this.session.whenConnected(Math.max(1, deadline - Date.now()), this.deadlineMs);
      try {
        await this.serial(path, () => (stillWanted() ? op(handle) : Promise.resolve()));
        return;
      } catch (error) {
        if (!isTransient(error)) throw this.session.writeFailed('write', path, error);
        if (Date.now() >= deadline) throw this.session.unreachable(this.deadlineMs);
        // The library reports a lost connection just before it marks itself disconnected: pause briefly
        // so the next whenConnected() waits for the reconnection instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Creates our ephemeral node, replacing one left by an older session of ours or of a previous process. */
  private async ensure(handle: ZkHandle, path: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const data = this.desired.get(path);
      if (!data) return;
      try {
        await handle.create(path, data, CreateMode.EPHEMERAL);
        this.confirm(path, data, handle);
        return;
      } catch (error) {
        const code = zkCode(error);
        if (code === Exception.NO_NODE) {
          await handle.mkdirp(path.slice(0, path.lastIndexOf('/')));
          continue;
        }
        if (code !== Exception.NODE_EXISTS) throw error;
      }
      const existing = await read(handle, path);
      if (!existing) continue;
      if (hex(existing.stat.ephemeralOwner) === handle.sessionId) {
        if (!existing.data?.equals(data)) await handle.setData(path, data, existing.stat.version);
        this.confirm(path, data, handle);
        return;
      }
      // Owned by another session (ours before an expiry, or a process that served this address before
      // us): it would vanish when that session ends and take this provider with it. Replace it now.
      await removeIgnoringRaces(handle, path, existing.stat.version);
    }
    throw new Error(`could not create ${path}: it kept being re-created by another session`);
  }

  /** Notes that the node holds `data` on this session, unless a newer register() changed what we want. */
  private confirm(path: string, data: Buffer, handle: ZkHandle): void {
    if (this.desired.get(path) === data) this.confirmed.set(path, handle.sessionId);
  }

  /** Deletes the node only if one of our sessions owns it: the address may have a new owner by now. */
  private async deleteOwn(handle: ZkHandle, path: string): Promise<void> {
    const existing = await read(handle, path);
    if (existing && this.session.isOwnSession(hex(existing.stat.ephemeralOwner))) {
      await removeIgnoringRaces(handle, path, existing.stat.version);
    }
    if (!this.desired.has(path)) this.retired.delete(path);
  }

  private serial(path: string, op: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(path) ?? Promise.resolve();
    const next = previous.then(op, op);
    const tail = next.catch(() => undefined);
    this.chains.set(path, tail);
    void tail.then(() => {
      if (this.chains.get(path) === tail) this.chains.delete(path);
    });
    return next;
  }
}

async function read(handle: ZkHandle, path: string): Promise<Awaited<ReturnType<ZkHandle['getData']>> | undefined> {
  try {
    return await handle.getData(path);
  } catch (error) {
    if (zkCode(error) === Exception.NO_NODE) return undefined;
    throw error;
  }
}

async function removeIgnoringRaces(handle: ZkHandle, path: string, version: number): Promise<void> {
  try {
    await handle.remove(path, version);
  } catch (error) {
    const code = zkCode(error);
    // Gone already, or changed since we read it: the caller looks again.
    if (code !== Exception.NO_NODE && code !== Exception.BAD_VERSION) throw error;
  }
}

function isOutage(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === ZooKeeperErrorCodes.REGISTRY_UNREACHABLE;
}
