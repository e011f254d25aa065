import type { InstanceInfo } from '@trellis/core/spi';
import * as protobuf from 'protobufjs';
import { badFlag, notFound, usage } from '../cli-error.js';
import { positiveMs, type CommandContext } from '../context.js';
import { parseHeaders, tlsOptions, usesTls } from '../call/call-options.js';
import { DialFailures } from '../call/dial-failures.js';
import { reflectionProvider } from '../call/providers.js';
import { GRPC_PROTOCOLS, PROTOCOLS } from '../call/protocols.js';
import type { HostPort } from '../health/checks.js';
import { ReflectionSource } from '../proto/reflection-source.js';
import { looksLikeAddress, parseTarget, type Target } from '../target.js';
import { grpcReflection, nativeReflection } from '../proto/reflection-targets.js';
import { ExitCode } from '../exit-codes.js';
import { descriptorSource, type DescriptorSource } from '../proto/descriptor-source.js';
import type { Descriptors } from '../proto/descriptors.js';
import { reachableTypes, serviceShape, signature, typeShape, typeText, type MethodShape, type ServiceShape } from '../proto/shapes.js';
import { closeNames, didYouMean } from '../suggest.js';

export interface DescriptorFlags {
  readonly proto?: string[];
  readonly importPath?: string[];
  readonly header?: string[];
  readonly timeout?: string;
  readonly cacert?: string;
  readonly insecure?: boolean;
  readonly protocol?: string;
}

/**
 * `trellis describe [host:port|grpc://host:port] [symbol]`: the services of the descriptors (no
 * symbol), or one service, method, message or enum with every message shape it reaches, streaming
 * kinds as declared. Descriptors from `--proto`, else from the reflection service of the server
 * named first (native protocol for host:port, gRPC for grpc://), or of a provider of the service
 * from the registry.
 */
export async function describe(ctx: CommandContext, first: string | undefined, second: string | undefined, flags: DescriptorFlags): Promise<number> {
  const target = first !== undefined && looksLikeAddress(first) ? parseTarget(first) : undefined;
  const symbol = target !== undefined ? second : first;
  if (target === undefined && second !== undefined) {
    throw usage(`"${first}" is not an address: describe takes [grpc://host:port] [symbol]`, `trellis describe grpc://host:port ${second}, or trellis describe ${second} --proto file.proto`);
  }
  const descriptors = await withReflection(ctx, target, symbol, flags, (source) => ctx.out.spin(`reading descriptors from ${source.origin}`, source.load()));
  const origin = descriptors.origin;
  if (symbol === undefined) {
    const services = descriptors.services().map(serviceShape);
    if (ctx.out.json) ctx.out.data({ origin, services });
    else services.forEach((s, i) => printService(ctx, s, origin, i > 0));
    return ExitCode.OK;
  }
  const found = descriptors.lookup(symbol);
  let json: Record<string, unknown>;
  let header: () => void;
  let roots: (protobuf.Type | protobuf.Enum)[];
  if (found instanceof protobuf.Service) {
    const shape = serviceShape(found);
    roots = found.methodsArray.flatMap(messagesOf);
    json = { origin, service: shape };
    header = () => printService(ctx, shape, origin, false);
  } else if (found instanceof protobuf.Method) {
    const service = found.parent as protobuf.Service;
    const shape = serviceShape(service).methods.find((m) => m.name === found.name)!;
    roots = messagesOf(found);
    json = { origin, service: service.fullName.slice(1), method: shape };
    header = () => ctx.out.print(`${service.fullName.slice(1)}: ${methodLine(ctx, shape)}`);
  } else if (found instanceof protobuf.Type || found instanceof protobuf.Enum) {
    roots = [found];
    json = { origin, type: typeShape(found) };
    header = () => undefined;
  } else {
    throw unknownSymbol(symbol, descriptors);
  }
  const types = reachableTypes(roots);
  if (ctx.out.json) {
    ctx.out.data({ ...json, types });
    return ExitCode.OK;
  }
  header();
  types.forEach((type, i) => {
    if (i > 0 || found instanceof protobuf.Service || found instanceof protobuf.Method) ctx.out.print();
    const [first, ...rest] = typeText(type);
    ctx.out.print(ctx.out.c.bold(first!));
    for (const line of rest) ctx.out.print(line);
  });
  return ExitCode.OK;
}

/**
 * Runs `work` on the descriptor source: `--proto`; else the reflection of the address given (gRPC
 * for grpc://, grpcs://, TLS flags or `--protocol grpc`; else the native protocol), or of a provider
 * of the service the symbol names (`demo.Greeter`, `demo.Greeter.SayHello`) when a registry is
 * configured. Connections are closed afterwards.
 */
async function withReflection<T>(ctx: CommandContext, target: Target | undefined, symbol: string | undefined, flags: DescriptorFlags, work: (source: DescriptorSource) => Promise<T>): Promise<T> {
  if ((flags.proto?.length ?? 0) > 0) return work(descriptorSource(flags));
  let address: HostPort;
  let protocol: string;
  if (target !== undefined && target.kind === 'address') {
    address = target.address;
    protocol = protocolOf(target, flags);
  } else {
    const provider = symbol !== undefined && ctx.hasRegistry ? await registeredProvider(ctx, symbol) : undefined;
    if (provider === undefined) return work(descriptorSource(flags));
    address = provider;
    protocol = GRPC_PROTOCOLS.has(provider.protocol) ? provider.protocol : 'trellis';
  }
  const options = { metadata: parseHeaders(flags.header ?? []), timeoutMs: positiveMs('--timeout', flags.timeout, 5000) };
  const warn = (text: string) => ctx.out.warn(text);
  if (protocol === 'trellis') return work(new ReflectionSource(nativeReflection(address, options), { warn }));
  const { GrpcClient } = await import('@trellis/transport-grpc');
  const dials = new DialFailures();
  const client = new GrpcClient({ tls: tlsOptions(flags), connectTimeoutMs: options.timeoutMs, onStateChange: dials.onStateChange });
  try {
    const tls = protocol === 'grpcs' || (target?.kind === 'address' && usesTls(target, flags));
    return await work(new ReflectionSource(grpcReflection(async () => client, address, tls, options), { dialFailure: (display) => dials.reason(display), warn }));
  } finally {
    client.close();
  }
}

/** An address's protocol: `--protocol`, else gRPC for grpc:// and grpcs:// (or TLS flags), else the native protocol, as `call` decides. */
function protocolOf(target: Target & { kind: 'address' }, flags: DescriptorFlags): string {
  if (flags.protocol !== undefined) {
    if (!(PROTOCOLS as readonly string[]).includes(flags.protocol)) throw badFlag('--protocol', flags.protocol, `one of ${PROTOCOLS.join(', ')}`);
    if (target.scheme !== undefined && flags.protocol !== 'grpc') {
      throw usage(`${target.text} is a gRPC address, but --protocol says ${flags.protocol}`, 'drop --protocol, or write the address as host:port');
    }
    return flags.protocol;
  }
  return target.scheme !== undefined || flags.cacert !== undefined || flags.insecure === true ? 'grpc' : 'trellis';
}

/** A provider of the service `symbol` is (or whose method it is), if the registry lists that service: a native one when there is one. */
async function registeredProvider(ctx: CommandContext, symbol: string): Promise<InstanceInfo | undefined> {
  const registry = ctx.registry();
  const services = await ctx.out.spin(`reading ${registry.address.display}`, registry.services());
  const names = [symbol, symbol.replace(/[./][^./]+$/, '')];
  const inGroup = services.filter((s) => s.group === ctx.group);
  const service = names.map((name) => inGroup.find((s) => s.name === name)).find((s) => s !== undefined);
  if (service === undefined) {
    const known = inGroup.map((s) => s.name);
    const close = closeNames(symbol, known).length > 0 ? closeNames(symbol, known) : closeNames(names[1]!, known);
    throw notFound(
      `no descriptors for "${symbol}": it is not a service (or a method of one) in the registry at ${registry.address.display}, group "${ctx.group}"`,
      close.length > 0 ? `${didYouMean(close)} Or pass its .proto with --proto file.proto` : 'pass its .proto with --proto file.proto; `trellis ls` lists the services there are',
      { suggestions: close },
    );
  }
  return reflectionProvider(registry, ctx.group, service.name);
}

function messagesOf(method: protobuf.Method): protobuf.Type[] {
  method.resolve();
  return [method.resolvedRequestType!, method.resolvedResponseType!];
}

function printService(ctx: CommandContext, service: ServiceShape, origin: string, gap: boolean): void {
  const { out } = ctx;
  if (gap) out.print();
  out.print(`${out.c.bold(`service ${service.name}`)}  ${out.c.dim(`(${origin})`)}`);
  for (const method of service.methods) out.print(`  ${methodLine(ctx, method)}`);
}

function methodLine(ctx: CommandContext, method: MethodShape): string {
  const { c } = ctx.out;
  const traits = [method.kind === 'unary' ? 'unary' : c.magenta(method.kind)];
  if (method.idempotency !== 'IDEMPOTENCY_UNKNOWN') traits.push(method.idempotency === 'IDEMPOTENT' ? 'idempotent' : 'no side effects');
  return `${c.cyan(signature(method))};  ${c.dim(`// ${traits.join(', ')}`)}`;
}

function unknownSymbol(symbol: string, descriptors: Descriptors) {
  const close = closeNames(symbol, descriptors.symbols());
  return notFound(
    `"${symbol}" is not a service, method, message or enum in ${descriptors.origin}`,
    close.length > 0 ? didYouMean(close) : `its services: ${descriptors.serviceNames.join(', ') || 'none'}`,
    { suggestions: close },
  );
}
