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
  /**
   * Names the member a connection comes from (see `loopbackPeerPid`). Asked only when a partition
   * needs the answer, never on every accepted connection: the lookup reads /proc synchronously (17 ms
   * a read of /proc/net/tcp on the shared 2-core machine), and members redialling a killed peer every
   * few tens of ms made it block the test process — the consumers in it — for seconds.
   */
  readonly identify?: (client: Socket) => string | undefined;
  /** Reads the first bytes of a connection (all received so far); undefined while it needs more. */
  readonly inspect?: (head: Buffer) => LinkHead | undefined;
  /**
   * Whether the link from → to is cut now. `from()` names the source (undefined: the connection does not
   * come from a member); call it only if the answer depends on it, since it may have to ask `identify`.
   */
  readonly isCut: (from: () => string | undefined, to: string) => boolean;
}

/** Bytes a connection may send before it must have said who it is. */
const MAX_HEAD = 64 * 1024;

/**
 * How long a connection waits for its member to listen. The proxy accepts a connection before it knows
 * whether the member behind it listens, so a refused dial would look like "connected, then closed" to
 * the dialling member — which is not what it does after a refusal: a ZooKeeper follower that dials its
 * new leader a few milliseconds before the leader listens retries a refused connection, but starts a
 * new election on a closed one. Retrying the member for a while keeps the race as harmless as it is on
 * a real network; a member that stays down closes the connection after this long.
 */
const UPSTREAM_RETRY_MS = 3000;

interface Link {
  readonly client: Socket;
  /** The connection to the member, once it is established. */
  upstream: Socket | undefined;
  /** What the client sent before the member's connection was up. */
  pending: Buffer[];
  from: string | undefined;
  /** `from` is still to be asked of `identify` (the first bytes did not say). */
  sourcePending: boolean;
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

  /**
   * Listens on a free loopback port, never one of `avoid`: ports handed out for members that have not
   * bound them yet are free to the system, and a proxy must not take one.
   */
  async start(avoid: ReadonlySet<number> = new Set()): Promise<this> {
    for (;;) {
      const server = createServer((client) => this.accept(client));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const port = (server.address() as { port: number }).port;
      if (avoid.has(port)) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        continue;
      }
      this.server = server;
      this.port = port;
      return this;
    }
  }

  /** Applies the current partition: cuts links that are now cut, closes cut links that are not any more. */
  refresh(): void {
    for (const link of this.links) {
      if (!link.identified) continue;
      const cut = this.isCut(link);
      if (cut) link.dead = true;
      else if (link.dead) this.drop(link);
    }
  }

  async close(): Promise<void> {
    for (const link of this.links) this.drop(link);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const { from, identify, inspect } = this.options;
    const link: Link = {
      client, upstream: undefined, pending: [], from, sourcePending: from === undefined && identify !== undefined,
      identified: !inspect, head: Buffer.alloc(0), dead: false,
    };
    this.links.add(link);
    client.on('error', () => undefined);
    client.on('close', () => this.drop(link));
    client.on('data', (chunk: Buffer) => this.fromClient(link, chunk));
    if (link.identified) this.decided(link, Buffer.alloc(0));
  }

  private fromClient(link: Link, chunk: Buffer): void {
    if (link.dead) return;
    if (link.identified) {
      if (link.upstream) link.upstream.write(chunk);
      else link.pending.push(chunk);
      return;
    }
    link.head = Buffer.concat([link.head, chunk]);
    const head = this.options.inspect!(link.head);
    if (!head && link.head.length < MAX_HEAD) return;
    link.identified = true;
    if (head?.from !== undefined) {
      link.from = head.from;
      link.sourcePending = false;
    }
    const forward = head?.forward ?? link.head;
    link.head = Buffer.alloc(0);
    this.decided(link, forward);
  }

  /** The source is known: black-hole the connection if its link is cut, otherwise open the way through. */
  private decided(link: Link, forward: Buffer): void {
    if (this.isCut(link)) {
      link.dead = true;
      return;
    }
    if (forward.length > 0) link.pending.push(forward);
    this.dial(link, Date.now() + UPSTREAM_RETRY_MS);
  }

  private isCut(link: Link): boolean {
    return this.options.isCut(() => {
      if (link.sourcePending) {
        link.sourcePending = false;
        link.from = this.options.identify!(link.client);
      }
      return link.from;
    }, this.options.to);
  }

  private dial(link: Link, until: number): void {
    const upstream = connect({ host: '127.0.0.1', port: this.options.targetPort });
    upstream.once('connect', () => {
      if (!this.links.has(link)) {
        upstream.destroy();
        return;
      }
      link.upstream = upstream;
      if (!link.dead) for (const chunk of link.pending) upstream.write(chunk);
      link.pending = [];
      upstream.on('data', (chunk: Buffer) => {
        if (!link.dead) link.client.write(chunk);
      });
      // The member went away: the dialling member sees the connection close.
      upstream.on('close', () => this.drop(link));
    });
    upstream.on('error', () => {
      if (link.upstream === upstream) return; // the 'close' that follows drops the link
      if (this.links.has(link) && !link.dead && Date.now() < until) setTimeout(() => this.dial(link, until), 50);
      else this.drop(link);
    });
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}
