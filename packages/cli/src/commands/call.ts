import { Code } from '@trellis/core';
import type { GrpcClient } from '@trellis/transport-grpc';
import { badFlag, CliError, usage } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { positiveMs } from '../context.js';
import { DialFailures } from '../call/dial-failures.js';
import { CallFailed, type CallBase, type CallTarget, type CallTransport, type TransportDeps } from '../call/call-transport.js';
import { parseHeaders, tlsOptions, usesTls } from '../call/call-options.js';
import { GRPC_PROTOCOLS } from '../call/protocols.js';
import { CALL_TRANSPORTS } from '../call/transports.js';
import { ExitCode } from '../exit-codes.js';
import { parseJson, readData } from '../input/json-input.js';
import { readRequestLines, type InputLine } from '../input/json-lines.js';
import { grpcProvider, reflectionProvider } from '../call/providers.js';
import { descriptorSource, type DescriptorSource } from '../proto/descriptor-source.js';
import { ReflectionSource, type ReflectionTarget } from '../proto/reflection-source.js';
import { grpcReflection, nativeReflection, type ReflectionCallOptions } from '../proto/reflection-targets.js';
import type { Descriptors, MethodInfo } from '../proto/descriptors.js';
import { fromJson, toJson } from '../proto/json-mapping.js';
import { grpcUrl, parseTarget, type Target } from '../target.js';
import type { DescriptorFlags } from './describe.js';

/** `describe`'s flags (descriptors, metadata, deadline, protocol, TLS) and the call's own. */
export interface CallFlags extends DescriptorFlags {
  readonly data?: string;
  readonly service?: string;
  readonly verbose?: boolean;
  readonly protoNames?: boolean;
}

/**
 * `trellis call <service|host:port|grpc://host:port> <Method> -d '{…}'`: JSON in, JSON out, over the
 * native protocol or gRPC. Descriptors come from `--proto`, or from the server's reflection (over
 * gRPC, or over the native protocol from a Trellis server with `addReflection`).
 * Each request is checked against its message type before anything is sent; stream responses print
 * one JSON per line as they arrive; a failed call prints its status code name, message and whether
 * it may have run, and exits 1.
 */
export async function call(ctx: CommandContext, targetText: string, methodText: string, flags: CallFlags): Promise<number> {
  // Unary calls default to a 5 s deadline; streams to none (a watch stays open until Ctrl-C), unless --timeout says.
  const setupMs = positiveMs('--timeout', flags.timeout, 5000);
  const streamMs = flags.timeout === undefined ? Infinity : setupMs;
  const metadata = parseHeaders(flags.header ?? []);
  const target = parseTarget(targetText);
  let grpcClient: GrpcClient | undefined;
  const dials = new DialFailures();
  const deps: TransportDeps = {
    grpcClient: async () => (grpcClient ??= new (await import('@trellis/transport-grpc')).GrpcClient({
      tls: tlsOptions(flags), connectTimeoutMs: setupMs, onStateChange: dials.onStateChange,
    })),
    dialFailure: (display) => dials.reason(display),
  };
  try {
    const protocol = await chooseProtocol(ctx, target, flags.protocol, flags.cacert !== undefined || flags.insecure === true);
    const callTarget = await resolveTarget(ctx, target, protocol, flags);
    const reflection = (flags.proto?.length ?? 0) > 0 ? undefined : await reflectionOf(ctx, deps, protocol, callTarget, target, { metadata, timeoutMs: setupMs });
    const descriptors = await ctx.out.spin(`reading descriptors`, descriptorSource(flags, reflection).load());
    const named = resolveMethod(descriptors, target.kind === 'service' ? target.name : undefined, methodText, flags.service);
    const method = descriptors.method(named.service, named.method);
    const transport = await CALL_TRANSPORTS.get(protocol)!(deps);
    const timeoutMs = method.kind === 'unary' ? setupMs : streamMs;
    const base: CallBase = { descriptors, method, group: ctx.group, metadata, timeoutMs, target: callTarget };
    const where = callTarget.kind === 'address' ? display(callTarget) : `${method.service} via ${ctx.registry().address.display}`;
    try {
      if (method.kind === 'unary') return await unary(ctx, transport, base, where, flags);
      return await streaming(ctx, transport, base, flags);
    } catch (error) {
      throw withDialFailure(error, deps);
    }
  } finally {
    grpcClient?.close();
  }
}

async function unary(ctx: CommandContext, transport: CallTransport, base: CallBase, where: string, flags: CallFlags): Promise<number> {
  const { method } = base;
  const request = await singleRequest(ctx, method, flags.data);
  let result;
  try {
    result = await ctx.out.spin(`calling ${method.name} on ${where}`, transport.unary({ ...base, request }));
  } catch (error) {
    if (error instanceof CallFailed) throw rpcFailed(error, `${method.service}/${method.name}`);
    throw error;
  }
  const response = toJson(method.response, result.response, flags.protoNames);
  if (flags.verbose && ctx.out.json) {
    ctx.out.data({ endpoint: result.endpoint, elapsedMs: round(result.elapsedMs), metadata: result.metadata, response });
    return ExitCode.OK;
  }
  if (flags.verbose) {
    const { c } = ctx.out;
    ctx.out.note(c.dim(`${method.service}/${method.name} answered by ${result.endpoint} in ${round(result.elapsedMs)} ms`));
    for (const [key, value] of Object.entries(result.metadata)) ctx.out.note(c.dim(`< ${key}: ${value}`));
  }
  ctx.out.data(response);
  return ExitCode.OK;
}

/**
 * Server streams send the one request of `-d`; client and bidi streams send JSON lines (one message a
 * line) from `-d`, `-d @file` or stdin. Responses of server and bidi streams print one JSON per line
 * as they arrive; a client stream's single response prints as a unary one does.
 */
async function streaming(ctx: CommandContext, transport: CallTransport, base: CallBase, flags: CallFlags): Promise<number> {
  const { method } = base;
  const requests = method.kind === 'server-streaming' ? once(await singleRequest(ctx, method, flags.data)) : await requestStream(ctx, method, flags.data ?? '-');
  let last: unknown;
  const lines = method.kind !== 'client-streaming';
  let result;
  try {
    result = await transport.stream({
      ...base,
      requests,
      onResponse: (response) => {
        last = toJson(method.response, response, flags.protoNames);
        if (lines) ctx.out.line(last);
      },
    });
  } catch (error) {
    if (error instanceof CallFailed) throw rpcFailed(error, `${method.service}/${method.name}`);
    throw error;
  }
  if (flags.verbose) {
    const { c } = ctx.out;
    ctx.out.note(c.dim(`${method.service}/${method.name} (${method.kind}) answered by ${result.endpoint} in ${round(result.elapsedMs)} ms: ${result.responses} response${result.responses === 1 ? '' : 's'}`));
    for (const [key, value] of Object.entries(result.metadata)) ctx.out.note(c.dim(`< ${key}: ${value}`));
  }
  if (!lines) ctx.out.data(last ?? {});
  return ExitCode.OK;
}

async function singleRequest(ctx: CommandContext, method: MethodInfo, data: string | undefined): Promise<Record<string, unknown>> {
  const { text, source } = await readData(data ?? '{}', ctx.streams.stdin);
  return checked(method, parseJson(text, source), source);
}

/** A request that does not fit its type is a usage error naming every problem (nothing is sent). */
function checked(method: MethodInfo, value: unknown, source: string, line?: number): Record<string, unknown> {
  const mapped = fromJson(method.request, value);
  if (mapped.issues.length > 0) {
    const lines = mapped.issues.map((i) => `  ${i.path || '(request)'}: ${i.message}`);
    const where = line === undefined ? '' : ` (${source}, line ${line})`;
    throw usage(`the request${where} does not fit ${method.requestType}:\n${lines.join('\n')}`, `trellis describe ${method.requestType} shows its fields`, {
      issues: mapped.issues,
      ...(line === undefined ? {} : { line }),
    });
  }
  return mapped.value;
}

/**
 * The requests of a client or bidi stream. Lines already in memory are all checked before the call
 * starts (a bad line 7 must not leave 6 messages sent); stdin lines are checked as they arrive, and a
 * bad one cancels the call.
 */
async function requestStream(ctx: CommandContext, method: MethodInfo, data: string): Promise<AsyncIterable<Record<string, unknown>>> {
  const input = await readRequestLines(data, ctx.streams.stdin, (text) => ctx.out.note(ctx.out.c.dim(text)));
  const check = ({ text, line }: InputLine) => checked(method, parseJson(text, `${input.source}, line ${line}`), input.source, line);
  if (input.complete) {
    const all: Record<string, unknown>[] = [];
    for await (const line of input.lines) all.push(check(line));
    return once(...all);
  }
  return (async function* () {
    for await (const line of input.lines) yield check(line);
  })();
}

async function* once<T>(...items: T[]): AsyncGenerator<T> {
  yield* items;
}

/**
 * `--protocol` when given (it must agree with a grpc:// target); a grpc:// or grpcs:// target is gRPC;
 * a host:port is the native protocol; a service is called over what its providers' instance
 * documents say (gRPC when every provider serves gRPC).
 */
async function chooseProtocol(ctx: CommandContext, target: Target, flag: string | undefined, tlsFlags: boolean): Promise<string> {
  if (flag !== undefined) {
    if (!CALL_TRANSPORTS.has(flag)) throw badFlag('--protocol', flag, `one of ${[...CALL_TRANSPORTS.keys()].join(', ')}`);
    if (target.kind === 'address' && target.scheme !== undefined && flag !== 'grpc') {
      throw usage(`${target.text} is a gRPC address, but --protocol says ${flag}`, `drop --protocol, or write the address as host:port`);
    }
    return flag;
  }
  // TLS flags with a bare host:port mean gRPC over TLS (the native protocol has no TLS here).
  if (target.kind === 'address') return target.scheme !== undefined || tlsFlags ? 'grpc' : 'trellis';
  const service = await ctx.out.spin(`looking up ${target.name}`, ctx.registry().service({ group: ctx.group, name: target.name }));
  const protocols = service.providers.map((p) => p.protocol);
  return protocols.length > 0 && protocols.every((p) => GRPC_PROTOCOLS.has(p)) ? 'grpc' : 'trellis';
}

/** gRPC calls go to one address: the target's, or a gRPC provider the registry lists (reflection asks the same one). */
async function resolveTarget(ctx: CommandContext, target: Target, protocol: string, flags: CallFlags): Promise<CallTarget> {
  if (target.kind === 'address') {
    return { kind: 'address', addresses: [target.address], tls: usesTls(target, flags) };
  }
  if (protocol !== 'grpc') return { kind: 'registry', registry: ctx.registry() };
  const provider = await grpcProvider(ctx.registry(), ctx.group, target.name);
  return { kind: 'address', addresses: [provider], tls: provider.protocol === 'grpcs' };
}

/**
 * Where descriptors come from without --proto: the reflection of the server called — over gRPC, or
 * over the native protocol (a Trellis server with `addReflection`); for a service found in the
 * registry, of one of its native providers.
 */
async function reflectionOf(ctx: CommandContext, deps: TransportDeps, protocol: string, callTarget: CallTarget, target: Target, options: ReflectionCallOptions): Promise<() => DescriptorSource> {
  const sourceOf = (reflection: ReflectionTarget) => () => new ReflectionSource(reflection, { dialFailure: deps.dialFailure, warn: (text) => ctx.out.warn(text) });
  if (callTarget.kind === 'address') {
    const address = callTarget.addresses[0]!;
    return sourceOf(protocol === 'grpc' ? grpcReflection(() => deps.grpcClient(), address, callTarget.tls === true, options) : nativeReflection(address, options));
  }
  const name = target.kind === 'service' ? target.name : '';
  const provider = await ctx.out.spin(`looking up ${name}`, reflectionProvider(callTarget.registry, ctx.group, name));
  return sourceOf(nativeReflection(provider, options));
}

function display(target: CallTarget & { kind: 'address' }): string {
  return grpcUrl(target.addresses[0]!, false).display;
}

/**
 * The service and method a call names: `Method` of the target service; `pkg.Svc/Method` or
 * `pkg.Svc.Method`; with an address, `--service`, or the only service in the descriptors (gRPC's
 * own reflection and health services aside).
 */
function resolveMethod(descriptors: Descriptors, targetService: string | undefined, text: string, serviceFlag: string | undefined): { service: string; method: string } {
  const qualified = /^(.+)[/.]([^/.]+)$/.exec(text);
  let service = targetService ?? serviceFlag;
  let method = text;
  if (qualified !== null) {
    const [, named, bare] = qualified as unknown as [string, string, string];
    if (service !== undefined && named !== service) {
      throw usage(`method "${text}" is in ${named}, but the call is for ${service}`, `write the method alone: trellis call ${service} ${bare}`);
    }
    service = named;
    method = bare;
  }
  if (service === undefined) {
    const all = descriptors.serviceNames;
    const names = all.length > 1 ? all.filter((n) => !n.startsWith('grpc.')) : all;
    if (names.length !== 1) {
      throw usage(`which service? ${descriptors.origin} defines ${names.length === 0 ? 'none' : names.join(', ')}`, `name it: trellis call host:port pkg.Service/${text}, or --service pkg.Service`);
    }
    service = names[0]!;
  }
  return { service, method };
}

/** A call that never left because the dial failed: say why the dial failed (refused, TLS…). */
function withDialFailure(error: unknown, deps: TransportDeps): unknown {
  if (!(error instanceof CliError) || error.exitCode !== ExitCode.RPC_FAILED) return error;
  const endpoint = error.details?.['endpoint'];
  const status = error.details?.['status'] as { code?: string; mayHaveRun?: boolean } | undefined;
  const dial = typeof endpoint === 'string' && status?.code === 'UNAVAILABLE' && status.mayHaveRun === false ? deps.dialFailure(endpoint) : undefined;
  if (dial === undefined) return error;
  return new CliError(error.exitCode, `${error.message}\n  dial: ${dial}`, { hint: error.hint, details: { ...error.details, dial }, cause: error });
}

function rpcFailed(failure: CallFailed, what: string): CliError {
  const { error, endpoint } = failure;
  const name = Code[error.code] ?? String(error.code);
  const at = endpoint === undefined ? '' : `\n  endpoint: ${endpoint}`;
  return new CliError(ExitCode.RPC_FAILED, `${what} failed: ${name} (${error.code}): ${error.message}\n  may have run: ${error.mayHaveRun ? 'yes' : 'no'}${at}`, {
    hint: hintFor(error.code, error.mayHaveRun, endpoint),
    details: {
      status: { code: name, number: error.code, message: error.message, mayHaveRun: error.mayHaveRun },
      elapsedMs: round(failure.elapsedMs),
      ...(endpoint === undefined ? {} : { endpoint }),
    },
  });
}

function hintFor(code: Code, mayHaveRun: boolean, endpoint: string | undefined): string | undefined {
  switch (code) {
    case Code.UNAVAILABLE:
      if (mayHaveRun) return 'the provider answered UNAVAILABLE, or the connection broke after the request was sent: it may have run';
      return endpoint !== undefined
        ? `nothing took the call at ${endpoint} (it never ran): is the server up there, and does it speak TLS (grpcs://) or cleartext (grpc://) as called?`
        : 'no provider took the call (it never ran): check trellis ls / trellis health';
    case Code.CANCELLED:
      return endpoint !== undefined ? `the server at ${endpoint} reset the call; a TLS server called over cleartext does that: try grpcs://` : undefined;
    case Code.DEADLINE_EXCEEDED:
      return 'the provider did not answer in time: raise --timeout, or see why it is slow';
    case Code.UNIMPLEMENTED:
      return 'the provider does not serve this method: check the --proto and the service version';
    case Code.RESOURCE_EXHAUSTED:
      return 'a limiter turned the call away: see trellis rules get <service> --doc limits';
    default:
      return undefined;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
