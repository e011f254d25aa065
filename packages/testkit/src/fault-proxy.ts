import { connect, createServer, type Server, type Socket } from 'node:net';

export type FaultMode =
  | { readonly kind: 'pass' }
  /** Every chunk is held back this long in each direction. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Connections stay open but nothing is forwarded (a black hole / partition). */
  | { readonly kind: 'blackhole' }
  /** Each chunk has this probability of resetting its connection. */
  | { readonly kind: 'reset'; readonly probability: number };

/**
 * A TCP proxy on loopback that sits between consumers and one provider and injects network faults:
 * latency, partitions and connection resets. The chaos suite's stand-in for tc netem, which needs
 * privileges this machine may not give.
 */
export class FaultProxy {
  private mode: FaultMode = { kind: 'pass' };
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  port = 0;
  resets = 0;

  constructor(private readonly targetPort: number, private readonly random: () => number = Math.random) {}

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  setMode(mode: FaultMode): void {
    this.mode = mode;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private accept(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        const mode = this.mode;
        if (mode.kind === 'blackhole') return;
        if (mode.kind === 'reset' && this.random() < mode.probability) {
          this.resets++;
          from.resetAndDestroy();
          to.resetAndDestroy();
          return;
        }
        if (mode.kind === 'delay') setTimeout(() => to.destroyed || to.write(chunk), mode.ms);
        else to.write(chunk);
      });
      from.on('close', () => to.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  }
}
