import * as protobuf from 'protobufjs';
import { notFound } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { descriptorSource } from '../proto/descriptor-source.js';
import type { Descriptors } from '../proto/descriptors.js';
import { reachableTypes, serviceShape, signature, typeShape, typeText, type MethodShape, type ServiceShape } from '../proto/shapes.js';
import { closeNames, didYouMean } from '../suggest.js';

export interface DescriptorFlags {
  readonly proto?: string[];
  readonly importPath?: string[];
}

/**
 * `trellis describe [symbol]`: the services of the descriptors (no symbol), or one service, method,
 * message or enum with every message shape it reaches, streaming kinds as the .proto declares them.
 */
export async function describe(ctx: CommandContext, symbol: string | undefined, flags: DescriptorFlags): Promise<number> {
  const descriptors = await descriptorSource(flags).load();
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
