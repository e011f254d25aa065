import type { InstanceInfo } from '@trellis/core/spi';
import { endpointId } from '@trellis/core/spi';
import type { CommandContext } from '../context.js';
import { positiveMs } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatMs, livenessCheck, type CheckResult } from '../health/checks.js';
import type { CatalogService } from '../registry/catalog.js';
import { protocolNames } from '../call/providers.js';
import { checkServiceName } from '../target.js';

export interface LsFlags {
  readonly health?: boolean;
  readonly healthTimeout?: string;
}

/** `trellis ls`: every service; `trellis ls <service>`: its providers, each PINGed (HTTP/2 PING for gRPC ones) unless --no-health. */
export async function ls(ctx: CommandContext, service: string | undefined, flags: LsFlags): Promise<number> {
  const registry = ctx.registry();
  if (service === undefined) {
    const all = await ctx.out.spin(`reading ${registry.address.display}`, registry.services());
    // Without --group every group is listed; with it, only that one.
    const services = ctx.flags.group === undefined ? all : all.filter((s) => s.group === ctx.group);
    listServices(ctx, services);
    return ExitCode.OK;
  }
  const found = await ctx.out.spin(`reading ${registry.address.display}`, registry.service({ group: ctx.group, name: checkServiceName(service) }));
  const checks = flags.health === false || found.providers.length === 0
    ? undefined
    : await ctx.out.spin(`pinging ${found.providers.length} provider(s)`, livenessCheck(found.providers, {
      timeoutMs: positiveMs('--health-timeout', flags.healthTimeout, 1000),
      count: 1,
    }));
  listProviders(ctx, found, checks);
  return ExitCode.OK;
}

function listServices(ctx: CommandContext, services: readonly CatalogService[]): void {
  const { out } = ctx;
  const address = ctx.registry().address.display;
  if (out.json) {
    out.data({ registry: address, services: services.map((s) => ({ ...s, providers: s.providers.map(providerJson) })) });
    return;
  }
  if (services.length === 0) {
    out.note(`no services in ${address} under ${ctx.registry().address.root}`);
    return;
  }
  out.table(
    [{ header: 'GROUP' }, { header: 'SERVICE' }, { header: 'PROVIDERS', right: true }, { header: 'VERSIONS' }, { header: 'PROTOCOLS' }, { header: 'RULES' }],
    services.map((s) => [
      out.c.dim(s.group),
      out.c.bold(s.name),
      s.providers.length === 0 ? out.c.yellow('0') : String(s.providers.length),
      unique(s.providers.map((p) => p.version)).join(', ') || '-',
      unique(s.providers.flatMap((p) => protocolNames(p).split(', '))).join(', ') || '-',
      s.documents.join(', ') || '-',
    ]),
  );
  const malformed = services.reduce((n, s) => n + s.malformed.length, 0);
  if (malformed > 0) out.warn(`${malformed} provider document(s) are malformed and skipped by consumers (see trellis ls <service>)`);
}

function listProviders(ctx: CommandContext, service: CatalogService, checks: readonly CheckResult[] | undefined): void {
  const { out } = ctx;
  const address = ctx.registry().address.display;
  const health = (i: number) => (checks === undefined ? undefined : checks[i]);
  if (out.json) {
    out.data({
      registry: address,
      group: service.group,
      service: service.name,
      documents: service.documents,
      providers: service.providers.map((p, i) => ({ ...providerJson(p), ...(health(i) ? { health: healthJson(health(i)!) } : {}) })),
      malformed: service.malformed,
    });
    return;
  }
  const count = service.providers.length;
  out.print(`${out.c.bold(`${service.group}/${service.name}`)}  ${count} provider${count === 1 ? '' : 's'}  ${out.c.dim(address)}${service.documents.length ? `  rules: ${service.documents.join(', ')}` : ''}`);
  if (count === 0) {
    out.note('no provider is registered (rule documents only)');
  } else {
    out.table(
      [
        { header: 'ADDRESS' }, { header: 'VERSION' }, { header: 'WEIGHT', right: true }, { header: 'PROTOCOL' }, { header: 'ZONE' },
        { header: 'TAGS' }, { header: 'UP', right: true }, { header: 'HEALTH' },
      ],
      service.providers.map((p, i) => [
        endpointId(p.host, p.port),
        p.version,
        String(p.weight),
        protocolNames(p),
        p.zone ?? '-',
        Object.entries(p.tags).map(([k, v]) => `${k}=${v}`).join(',') || '-',
        p.startedAt > 0 ? age(Date.now() - p.startedAt) : '-',
        healthText(ctx, health(i)),
      ]),
    );
  }
  for (const id of service.malformed) out.warn(`provider document ${id} is malformed: consumers skip it`);
}

function providerJson(p: InstanceInfo): Record<string, unknown> {
  return { address: endpointId(p.host, p.port), ...p };
}

function healthJson(check: CheckResult): Record<string, unknown> {
  return { check: check.check, ok: check.ok, status: check.status, ...(check.firstMs !== undefined ? { rttMs: round(check.firstMs) } : {}), ...(check.detail ? { detail: check.detail } : {}) };
}

function healthText(ctx: CommandContext, check: CheckResult | undefined): string {
  const { c } = ctx.out;
  if (check === undefined) return c.dim('-');
  return check.ok ? `${c.green('up')} ${c.dim(formatMs(check.firstMs ?? 0))}` : c.red(check.status.toLowerCase());
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** `45s`, `12m`, `3h12m`, `4d2h`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
