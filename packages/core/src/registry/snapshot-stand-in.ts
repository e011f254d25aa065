/**
 * The choice every registry watch makes between its last snapshot and the live source, in one place:
 * the snapshot stands in only when the live source has not answered within `delayMs`, and never once
 * it has. Used by the etcd and ZooKeeper watches of provider lists and rule documents.
 */
export class SnapshotStandIn {
  private timer: NodeJS.Timeout | undefined;
  private answered = false;

  /** True once the live source answered (what is served came from it, not from the snapshot). */
  get live(): boolean {
    return this.answered;
  }

  /** After `delayMs`, unless the live source answered first, `serveSnapshot` runs (once). */
  arm(delayMs: number, serveSnapshot: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.answered) serveSnapshot();
    }, delayMs);
    // A pending stand-in must not keep the process alive.
    this.timer.unref();
  }

  /** The live source answered: the stand-in is off for good. Returns true the first time. */
  liveAnswered(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    const first = !this.answered;
    this.answered = true;
    return first;
  }

  /** The watch closed: nothing will be served. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
