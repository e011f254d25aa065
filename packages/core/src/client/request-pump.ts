import type { MessageCodec } from '../definition.js';
import { Code, RpcError } from '../errors.js';
import type { ClientStream } from '../transport-stream.js';

/**
 * Moves a client- or bidi-streaming call's request messages from the caller's iterable to the
 * transport, one at a time: pull, encode, `send()`, and wait when `send()` says the stream's credit
 * is used up — so the caller's producer runs at the pace the server reads.
 *
 * One pump per call (kept in the call's context), not per stream: messages pulled before the stream
 * was set up are kept in `replay`, and a stream that replaces a failed one (the kernel's transparent
 * re-send, or retry's next attempt) gets them first, so a re-send never loses a message the caller
 * already gave. Pulling starts as soon as a stream is open rather than after set-up: a server that
 * sends its headers only with its answer (grpc-js does, for client-streaming) would otherwise wait
 * for input that never comes. The buffer is bounded by the transport's initial send credit and
 * dropped once the stream is set up.
 */
export class RequestPump {
  /** Request messages given to a transport (the last stream's count, replays included once). */
  sent = 0;
  private iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  private target: ClientStream | undefined;
  /** What was pulled before set-up, for a re-send; undefined once the stream is set up. */
  private replay: Uint8Array[] | undefined = [];
  /** How many of `replay` the current target has. */
  private cursor = 0;
  private setUpDone = false;
  private sourceDone = false;
  private stopped = false;
  private running = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly source: unknown,
    private readonly codec: MessageCodec,
    private readonly what: string,
  ) {}

  /** Sends to this stream from now on (the call's first stream, or one replacing a failed one). */
  attach(stream: ClientStream): void {
    if (this.stopped) return;
    this.target = stream;
    this.cursor = 0;
    this.sent = 0;
    if (!this.running) {
      this.running = true;
      void this.run();
    } else {
      this.wakeUp();
    }
  }

  /** The stream was set up: no more re-sends, the replay buffer goes once the stream has it. */
  setUp(): void {
    this.setUpDone = true;
    // A pump parked after the half-close (kept for a possible re-send) can finish now.
    if (this.sourceDone) this.wakeUp();
  }

  /** The call is over (ended, failed, cancelled): stop pulling; the caller's generator is closed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.replay = undefined;
    this.wakeUp();
    if (!this.sourceDone && this.iterator?.return !== undefined) {
      try {
        const closing = this.iterator.return();
        if (closing instanceof Promise) closing.catch(() => undefined);
      } catch { /* the caller's iterator failed to close: nothing left to do with it */ }
    }
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves once another stream was attached or the pump stopped. */
  private parked(stream: ClientStream): Promise<void> {
    if (this.stopped || this.target !== stream) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  private async run(): Promise<void> {
    try {
      const source = this.source as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown>; [Symbol.iterator]?: () => Iterator<unknown> } | null;
      const asyncIterator = typeof source === 'object' && source !== null ? source[Symbol.asyncIterator] : undefined;
      const syncIterator = typeof source === 'object' && source !== null ? source[Symbol.iterator] : undefined;
      if (typeof asyncIterator === 'function') this.iterator = asyncIterator.call(source);
      else if (typeof syncIterator === 'function') this.iterator = syncIterator.call(source);
      else throw new Error(`the requests of ${this.what} are not an iterable (an async generator, an array…)`);
    } catch (error) {
      this.sourceDone = true;
      this.target!.cancel(`the request stream failed: ${(error as Error).message}`);
      return this.stop();
    }
    while (!this.stopped) {
      const stream = this.target!;
      try {
        while (this.replay !== undefined && this.cursor < this.replay.length) {
          await send(stream, this.replay[this.cursor++]!);
          this.sent++;
          if (this.target !== stream || this.stopped) break;
        }
        if (this.target !== stream || this.stopped) continue;
        if (this.setUpDone) this.replay = undefined;
        if (this.sourceDone) {
          stream.end();
          if (this.setUpDone) return this.stop();
          await this.parked(stream); // a re-send may still need everything again
          continue;
        }
        let next: IteratorResult<unknown>;
        try {
          next = await this.iterator!.next();
        } catch (error) {
          this.sourceDone = true;
          this.target!.cancel(`the request stream failed: ${(error as Error)?.message ?? String(error)}`);
          return this.stop();
        }
        if (this.stopped) return;
        if (next.done === true) {
          this.sourceDone = true;
          continue;
        }
        let bytes: Uint8Array;
        try {
          bytes = this.codec.encode(next.value);
        } catch (error) {
          this.target!.cancel(`a request message of ${this.what} could not be encoded: ${(error as Error).message}`);
          return this.stop();
        }
        if (this.replay !== undefined) {
          this.replay.push(bytes);
          if (this.target !== stream) continue; // the replay loop sends it to the new stream
          this.cursor = this.replay.length;
        } else if (this.target !== stream) {
          continue;
        }
        await send(this.target, bytes);
        this.sent++;
      } catch {
        // The stream failed under us: wait for a re-send's new stream, or for the call's end.
        await this.parked(stream);
      }
    }
  }
}

/** `send()`, whose promise (no credit left) the pump awaits before it pulls the next message. */
function send(stream: ClientStream, bytes: Uint8Array): Promise<void> | undefined {
  return stream.send(bytes);
}

/** The error a call gets when its transport has no `openStream`. */
export function noStreams(transportName: string, what: string): RpcError {
  return new RpcError(Code.UNIMPLEMENTED, `${what} is a stream method, and the client's transport (${transportName}) carries unary calls only (it has no openStream)`, { mayHaveRun: false });
}
