import { refusingPort, type RefusingPort } from './refusing-port.js';
import type { ServerProcess } from './server-process.js';

/**
 * The ports of a test's server process (etcd, ZooKeeper), held refused while the process is down
 * between a kill and its restart on the same ports (refusingPort's `port`): freed for the seconds of
 * an outage, any process could take one, and the restart would fail with EADDRINUSE. The server
 * takes them back by listening on them while they are held; release() then lets go of the holds.
 */
export class DowntimeHold {
  private held: Promise<RefusingPort[]> | undefined;

  constructor(private readonly ports: readonly number[]) {}

  /**
   * Once the process has exited (`exited`). Best effort: a port taken in the moment since the exit
   * is left unheld, and a restart reports it as it would have.
   */
  take(exited: Promise<void>): void {
    this.held ??= exited.then(async () => {
      const holds = await Promise.all(this.ports.map((port) => refusingPort({ port }).catch(() => undefined)));
      return holds.filter((hold): hold is RefusingPort => hold !== undefined);
    });
  }

  /** After a signal was sent to `server`: if it ended the process, holds its ports and waits until they are held. */
  async holdIfEnded(server: ServerProcess | undefined): Promise<void> {
    if (server === undefined || server.running) return;
    this.take(server.whenExited());
    await this.taken();
  }

  /** Waits for a take() in progress, so a restart starts with the ports held. */
  async taken(): Promise<void> {
    await this.held;
  }

  /** Lets go of the holds (idempotent). */
  async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    await Promise.all((await held ?? []).map((hold) => hold.close()));
  }
}
