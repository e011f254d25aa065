import { DEFAULT_GROUP, RpcClient, type ResponseStream } from '@trellis/core';
import { reflectionDefinition } from './native-server.js';
import { checkReflectionStreamOptions } from './options.js';
import type { OpenReflectionStream, ReflectionStream } from './reflection-client.js';

export interface NativeReflectionOptions {
  /** Deadline of each reflection stream (default 10 s). */
  readonly timeoutMs?: number;
  /** Metadata sent with the stream (auth tokens…). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Reflection streams to one Trellis server over the native protocol, for a ReflectionClient:
 * `new ReflectionClient(channel.open)`. Reflection is served in the default group (native-server.ts),
 * whatever group the application's services are in. `close()` ends every stream and connection.
 */
export class NativeReflectionChannel {
  private readonly clients: RpcClient[] = [];
  private readonly streams: ReflectionStream[] = [];

  constructor(private readonly address: { readonly host: string; readonly port: number }, private readonly options: NativeReflectionOptions = {}) {
    checkReflectionStreamOptions(options, 'NativeReflectionChannel');
  }

  readonly open: OpenReflectionStream = (service) => {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const client = new RpcClient({ service: reflectionDefinition(service), group: DEFAULT_GROUP, addresses: [{ host: this.address.host, port: this.address.port }], timeoutMs });
    this.clients.push(client);
    const requests = new RequestQueue();
    const responses: ResponseStream = client.stream('ServerReflectionInfo', requests, { timeoutMs, metadata: { ...this.options.metadata } });
    const stream: ReflectionStream = {
      send: (request) => requests.push(request),
      responses: (responses as AsyncIterable<Uint8Array>)[Symbol.asyncIterator](),
      close: () => {
        requests.end();
        responses.cancel('reflection done');
      },
    };
    this.streams.push(stream);
    return stream;
  };

  async close(): Promise<void> {
    for (const stream of this.streams.splice(0)) stream.close();
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
  }
}

/** Requests pushed one at a time (each question waits for its answer), read by the kernel as the stream's request iterable. */
class RequestQueue implements AsyncIterable<Uint8Array> {
  private readonly items: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(item: Uint8Array): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
