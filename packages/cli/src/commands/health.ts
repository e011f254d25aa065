import { badFlag, notFound } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { positiveMs } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatMs, healthUrl, httpCheck, livenessCheck, type CheckResult, type CheckTarget } from '../health/checks.js';
import { parseTarget } from '../target.js';

export interface HealthFlags {
  readonly http?: string;
  readonly count?: string;
  readonly timeout?: string;
}

/**
 * `trellis health <host:port|grpc://host:port|service>`: PING round trips over the native protocol, or
 * HTTP/2 PINGs to a gRPC server (grpc:// targets, providers whose instance document says grpc), for
 * every provider of a service through the registry; and @trellis/health's HTTP endpoint with
 * `--http`. Exit 0 when every check passed, 1 when one did not.
 */
export async function health(ctx: CommandContext, targetText: string, flags: HealthFlags): Promise<number> {
  const timeoutMs = positiveMs('--timeout', flags.timeout, 1000);
  const count = flags.count === undefined ? 3 : Number(flags.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) throw badFlag('--count', flags.count, 'a whole number from 1 to 100');
  const target = parseTarget(targetText);
  let targets: CheckTarget[];
  if (target.kind === 'address') {
    targets = [{ ...target.address, protocol: target.scheme }];
  } else {
    const registry = ctx.registry();
    const service = await ctx.out.spin(`reading ${registry.address.display}`, registry.service({ group: ctx.group, name: target.name }));
    if (service.providers.length === 0) {
      throw notFound(`${service.group}/${service.name} has no provider to check`, 'trellis ls shows what is registered');
    }
    targets = service.providers.map((p) => ({ host: p.host, port: p.port, protocol: p.protocol }));
  }
  if (flags.http !== undefined && healthUrl(flags.http, 'h') === '') {
    throw badFlag('--http', flags.http, 'a port or a URL', 'pass the health endpoint\'s port (8081, :8081/ready) or its URL');
  }
  const checks = await ctx.out.spin(`checking ${targets.length} target(s)`, async () => {
    const pings = await livenessCheck(targets, { timeoutMs, count });
    const https = flags.http === undefined ? [] : await Promise.all(targets.map((t) => httpCheck(healthUrl(flags.http!, t.host), timeoutMs)));
    return [...pings, ...https];
  });
  const ok = checks.every((c) => c.ok);
  if (ctx.out.json) ctx.out.data({ ok, checks: checks.map(checkJson) });
  else print(ctx, checks);
  return ok ? ExitCode.OK : ExitCode.RPC_FAILED;
}

function checkJson(check: CheckResult): Record<string, unknown> {
  const { rttMs, firstMs, ...rest } = check;
  return { ...rest, ...(firstMs !== undefined ? { firstMs: round(firstMs) } : {}), ...(rttMs ? { rttMs: rttMs.map(round) } : {}) };
}

function print(ctx: CommandContext, checks: readonly CheckResult[]): void {
  const { c } = ctx.out;
  ctx.out.table(
    [{ header: 'TARGET' }, { header: 'CHECK' }, { header: 'STATUS' }, { header: 'DETAIL' }],
    checks.map((check) => [check.target, check.check, check.ok ? c.green(check.status) : c.red(check.status), detail(check)]),
  );
}

function detail(check: CheckResult): string {
  if (!check.ok) return check.detail ?? '';
  if (check.check === 'http') return '';
  const parts = [`first ${formatMs(check.firstMs ?? 0)} (dial included)`];
  const rtts = check.rttMs ?? [];
  if (rtts.length > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    parts.push(`rtt min/avg/max ${formatMs(Math.min(...rtts))} / ${formatMs(avg)} / ${formatMs(Math.max(...rtts))}`);
  }
  return parts.join(', ');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
