import { connect, createServer, type Server, type Socket } from 'node:net';

/** What a proxy learned from the first bytes of a connection. */
export interface LinkHead {
  /** The member the connection comes from, when the bytes say so. */
  readonly from?: string;
  /** What to forward in place of the bytes inspected (the same bytes, or a rewrite). */
  readonly forward: Buffer;
}

export interface LinkProxyOptions {
  /** The member behind the proxy. */
  readonly to: string;
  readonly targetPort: number;
  /** The member every connection comes from, for a proxy that serves one pair of members. */
  readonly from?: string;
  /** Reads the first bytes of a connection (all received so far); undefined while it needs more. */
  readonly inspect?: (head: Buffer) => LinkHead | undefined;
  /** Whether the link from → to is cut now (`from` undefined: the connection's source is unknown). */
  readonly isCut: (from: string | undefined, to: string) => boolean;
}

/** Bytes a connection may send before it must have said who it is. */
const MAX_HEAD = 64 * 1024;

interface Link {
  readonly client: Socket;
  upstream: Socket | undefined;
  from: string | undefined;
  identified: boolean;
  head: Buffer;
  /** Cut: nothing is forwarded any more, in either direction, and the link is never revived. */
  dead: boolean;
}

/**
 * A TCP proxy on one peer link of a registry cluster: members dial each other through it, so a test can
 * cut the links of one member — packets dropped, as in a network partition — while its client port
 * stays reachable. A cut connection stays open and silent (a black hole, so the members find out by
 * their own timeouts, as they would on a real network); when the partition heals, those connections
 * are closed, so the members dial again rather than resume a stream with a hole in it.
 */
export class LinkProxy {
  private readonly links = new Set<Link>();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly options: LinkProxyOptions) {}

  async start(): Promise<this> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Applies the current partition: cuts links that are now cut, closes cut links that are not any more. */
  refresh(): void {
    for (const link of this.links) {
      if (!link.identified) continue;
      const cut = this.options.isCut(link.from, this.options.to);
      if (cut) link.dead = true;
      else if (link.dead) this.drop(link);
    }
  }

  async close(): Promise<void> {
    for (const link of this.links) this.drop(link);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const link: Link = { client, upstream: undefined, from: this.options.from, identified: !this.options.inspect, head: Buffer.alloc(0), dead: false };
    this.links.add(link);
    client.on('error', () => undefined);
    client.on('close', () => this.drop(link));
    client.on('data', (chunk: Buffer) => this.fromClient(link, chunk));
    if (link.identified) this.decided(link, Buffer.alloc(0));
  }

  private fromClient(link: Link, chunk: Buffer): void {
    if (link.dead) return;
    if (link.identified) {
      link.upstream?.write(chunk);
      return;
    }
    link.head = Buffer.concat([link.head, chunk]);
    const head = this.options.inspect!(link.head);
    if (!head && link.head.length < MAX_HEAD) return;
    link.identified = true;
    link.from = head?.from ?? this.options.from;
    const forward = head?.forward ?? link.head;
    link.head = Buffer.alloc(0);
    this.decided(link, forward);
  }

  /** The source is known: black-hole the connection if its link is cut, otherwise open the way through. */
  private decided(link: Link, forward: Buffer): void {
    if (this.options.isCut(link.from, this.options.to)) {
      link.dead = true;
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.options.targetPort });
    link.upstream = upstream;
    upstream.on('error', () => undefined);
    // The member behind the proxy is down: the dialling member sees the connection close.
    upstream.on('close', () => this.drop(link));
    upstream.on('data', (chunk: Buffer) => {
      if (!link.dead) link.client.write(chunk);
    });
    if (forward.length > 0) upstream.write(forward);
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}
