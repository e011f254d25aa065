import { Code } from '@trellis/core';
import { CliError, usage } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { positiveMs } from '../context.js';
import { CallFailed, type CallTarget } from '../call/call-transport.js';
import { CALL_TRANSPORTS } from '../call/transports.js';
import { ExitCode } from '../exit-codes.js';
import { parseJson, readData } from '../input/json-input.js';
import { descriptorSource } from '../proto/descriptor-source.js';
import type { Descriptors } from '../proto/descriptors.js';
import { fromJson, toJson } from '../proto/json-mapping.js';
import { checkServiceName, parseHostPort } from '../target.js';

export interface CallFlags {
  readonly data?: string;
  readonly header?: string[];
  readonly timeout?: string;
  readonly proto?: string[];
  readonly importPath?: string[];
  readonly service?: string;
  readonly protocol?: string;
  readonly verbose?: boolean;
  readonly protoNames?: boolean;
}

/**
 * `trellis call <service|host:port> <Method> -d '{…}'`: JSON in, JSON out. The request is checked
 * against the .proto before anything is sent; a failed call prints its status code name, message and
 * whether it may have run, and exits 1.
 */
export async function call(ctx: CommandContext, targetText: string, methodText: string, flags: CallFlags): Promise<number> {
  const protocol = flags.protocol ?? 'trellis';
  const transport = CALL_TRANSPORTS.get(protocol);
  if (transport === undefined) throw usage(`--protocol "${protocol}" is unknown`, `protocols: ${[...CALL_TRANSPORTS.keys()].join(', ')}`);
  const timeoutMs = positiveMs('--timeout', flags.timeout, 5000);
  const metadata = parseHeaders(flags.header ?? []);
  const descriptors = await descriptorSource(flags).load();

  const address = parseHostPort(targetText);
  const { service, method: methodName } = resolveMethod(descriptors, address === undefined ? checkServiceName(targetText) : undefined, methodText, flags.service);
  const method = descriptors.method(service, methodName);
  if (method.kind !== 'unary') {
    throw usage(`${service}.${method.name} is ${method.kind}: trellis call runs unary methods for now`, 'streaming calls arrive with the gRPC transport');
  }
  const { text, source } = await readData(flags.data ?? '{}', ctx.streams.stdin);
  const mapped = fromJson(method.request, parseJson(text, source));
  if (mapped.issues.length > 0) {
    const lines = mapped.issues.map((i) => `  ${i.path || '(request)'}: ${i.message}`);
    throw usage(`the request does not fit ${method.requestType}:\n${lines.join('\n')}`, `trellis describe ${method.requestType} --proto … shows its fields`, { issues: mapped.issues });
  }

  const target: CallTarget = address !== undefined ? { kind: 'address', addresses: [address] } : { kind: 'registry', registry: ctx.registry() };
  const where = address !== undefined ? `${address.host}:${address.port}` : `${service} via ${ctx.registry().address.display}`;
  let result;
  try {
    const chosen = await transport();
    result = await ctx.out.spin(`calling ${method.name} on ${where}`, chosen.unary({
      definition: descriptors.definition(service), method, group: ctx.group, request: mapped.value, metadata, timeoutMs, target,
    }));
  } catch (error) {
    if (error instanceof CallFailed) throw rpcFailed(error, `${service}/${method.name}`);
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

/** `-H key:value` (repeatable); keys lower-cased as metadata keys are. */
export function parseHeaders(headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of headers) {
    const colon = header.indexOf(':');
    const key = colon > 0 ? header.slice(0, colon).trim().toLowerCase() : '';
    if (!/^[a-z0-9_.-]+$/.test(key)) throw usage(`-H "${header}" is not key:value`, 'metadata keys are letters, digits, "-", "_" and ".": -H trellis-caller:ops');
    out[key] = header.slice(colon + 1).trim();
  }
  return out;
}

/**
 * The service and method a call names: `Method` of the target service; `pkg.Svc/Method` or
 * `pkg.Svc.Method`; with an address, `--service`, or the only service in the descriptors.
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
    const names = descriptors.serviceNames;
    if (names.length !== 1) {
      throw usage(`which service? ${descriptors.origin} defines ${names.length === 0 ? 'none' : names.join(', ')}`, `name it: trellis call host:port pkg.Service/${text}, or --service pkg.Service`);
    }
    service = names[0]!;
  }
  return { service, method };
}

function rpcFailed(failure: CallFailed, what: string): CliError {
  const { error } = failure;
  const name = Code[error.code] ?? String(error.code);
  return new CliError(ExitCode.RPC_FAILED, `${what} failed: ${name} (${error.code}): ${error.message}\n  may have run: ${error.mayHaveRun ? 'yes' : 'no'}`, {
    hint: hintFor(error.code, error.mayHaveRun),
    details: { status: { code: name, number: error.code, message: error.message, mayHaveRun: error.mayHaveRun }, elapsedMs: round(failure.elapsedMs) },
  });
}

function hintFor(code: Code, mayHaveRun: boolean): string | undefined {
  switch (code) {
    case Code.UNAVAILABLE:
      return mayHaveRun
        ? 'the provider answered UNAVAILABLE, or the connection broke after the request was sent: it may have run'
        : 'no provider took the call (it never ran): check trellis ls / trellis health';
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
