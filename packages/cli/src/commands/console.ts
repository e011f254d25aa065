import { randomBytes } from 'node:crypto';
import { badFlag, usage } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import type { CatalogService, ServiceCatalog } from '../registry/catalog.js';

export interface ConsoleFlags {
  readonly port?: string;
  readonly host?: string;
  readonly token?: string;
}

/** The page polls once a second; the registry is read at most this often, whatever the number of pages. */
const REFRESH_MS = 2000;

/**
 * `trellis console`: the registry-wide web console (@trellis/admin's page, read-only), listing every
 * service and provider in the registry with no Trellis process attached; a provider that publishes
 * its own console's URL (tag `trellis.admin`) links to it. Serves until interrupted (Ctrl-C).
 */
export async function consoleCommand(ctx: CommandContext, flags: ConsoleFlags): Promise<number> {
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badFlag('--port', flags.port, 'a port number (0 picks a free one)');
  const token = flags.token ?? ctx.streams.env.TRELLIS_CONSOLE_TOKEN ?? randomBytes(24).toString('base64url');
  if (token.length < 16) throw usage('--token must be at least 16 characters', 'leave it out and a random one is made');
  const address = ctx.registryAddress();
  const catalog: ServiceCatalog = address.kind === 'etcd'
    ? new (await import('../registry/etcd-catalog.js')).EtcdCatalog(address, ctx.registryTimeoutMs)
    : new (await import('../registry/zk-catalog.js')).ZooKeeperCatalog(address, ctx.registryTimeoutMs);
  // First read before serving: an unreachable registry fails the command with its own message and code.
  let listing: { at: number; services: Promise<CatalogService[]> } = { at: Date.now(), services: catalog.services() };
  await ctx.out.spin(`reading ${address.display}`, listing.services);
  const services = (): Promise<CatalogService[]> => {
    if (Date.now() - listing.at >= REFRESH_MS) listing = { at: Date.now(), services: catalog.services() };
    return listing.services;
  };
  const { serveRegistryConsole } = await import('@trellis/admin');
  const server = await serveRegistryConsole({ registry: address.display, services, port, host: flags.host ?? '127.0.0.1', token });
  const url = `${server.url}#token=${token}`;
  if (ctx.out.json) ctx.out.data({ registry: address.display, url });
  else {
    ctx.out.print(`registry console for ${address.display}: ${url}`);
    ctx.out.note('read-only; serving until interrupted (Ctrl-C)');
  }
  // Serves until the process is interrupted (bin.ts exits on SIGINT); the catalog closes with it.
  await new Promise<never>(() => undefined);
  return 0;
}
