import { createHook } from 'node:async_hooks';
import { Socket } from 'node:net';

/**
 * Instruments for diagnostic rounds only — never on while QPS is being measured, since each one
 * changes what it measures a little (a promise hook slows every promise; the socket probe wraps
 * every socket write and 'data' event).
 */

/** Promises created in this process between start and stop (an async_hooks init hook). */
export function countPromises(): { stop(): number } {
  let count = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') count++;
    },
  });
  hook.enable();
  return {
    stop() {
      hook.disable();
      return count;
    },
  };
}

export interface SocketCounts {
  /** 'data' events (batches arriving) and their bytes. */
  readonly reads: number;
  readonly readBytes: number;
  /** `socket.write()` calls (batches leaving) and their bytes. */
  readonly writes: number;
  readonly writeBytes: number;
  /**
   * For each batch that arrived and was answered: in how many event-loop iterations after its arrival
   * the next write left — [same iteration, one later, two later, three or more].
   */
  readonly turnsToWrite: readonly [number, number, number, number];
  /** Mean time from a batch's arrival to the next write (the batch's processing, on this side), µs. */
  readonly arrivalToWriteUs: number;
}

/**
 * Counts batches in and out of every net.Socket of this process and how many event-loop iterations
 * pass between a batch arriving and the next write. An iteration is counted by a setImmediate chain
 * that runs only while an arrived batch waits for its write (an immediate runs once per iteration,
 * in the check phase after I/O callbacks), so an idle loop still blocks in poll as usual.
 * grpc-js's HTTP/2 sessions read and write their socket handle directly and are not seen.
 */
export function probeSockets(): { stop(): SocketCounts } {
  const proto = Socket.prototype as unknown as Record<string, unknown>;
  const ownWrite = Object.getOwnPropertyDescriptor(proto, 'write');
  const ownEmit = Object.getOwnPropertyDescriptor(proto, 'emit');
  const write = proto.write as (this: Socket, ...args: unknown[]) => boolean;
  const emit = proto.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  let reads = 0;
  let readBytes = 0;
  let writes = 0;
  let writeBytes = 0;
  const turns: [number, number, number, number] = [0, 0, 0, 0];
  let arrivalToWriteUs = 0;
  let answered = 0;
  let iteration = 0;
  let waitingSince = -1;
  let arrivedAt = 0;
  let chain = false;
  const step = (): void => {
    iteration++;
    if (waitingSince >= 0) setImmediate(step);
    else chain = false;
  };
  proto.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      reads++;
      readBytes += (args[0] as Buffer).length;
      if (waitingSince < 0) {
        waitingSince = iteration;
        arrivedAt = performance.now();
        if (!chain) {
          chain = true;
          setImmediate(step);
        }
      }
    }
    return emit.call(this, event, ...args);
  };
  proto.write = function (this: Socket, ...args: unknown[]): boolean {
    writes++;
    const data = args[0];
    writeBytes += typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).length;
    if (waitingSince >= 0) {
      turns[Math.min(3, iteration - waitingSince)]!++;
      arrivalToWriteUs += (performance.now() - arrivedAt) * 1000;
      answered++;
      waitingSince = -1;
    }
    return write.apply(this, args);
  };
  const restore = (name: string, own: PropertyDescriptor | undefined) => {
    if (own) Object.defineProperty(proto, name, own);
    else delete proto[name];
  };
  return {
    stop() {
      restore('write', ownWrite);
      restore('emit', ownEmit);
      waitingSince = -1;
      return { reads, readBytes, writes, writeBytes, turnsToWrite: turns, arrivalToWriteUs: answered > 0 ? arrivalToWriteUs / answered : 0 };
    },
  };
}
