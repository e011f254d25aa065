import type * as protobuf from 'protobufjs';
import { localName } from '../local-name.js';
import { inputName, messageImportLine, outputName, typeInterfaceName, type NameTemplates } from './type-names.js';

export interface ServiceFileOptions extends NameTemplates {
  readonly includeComments: boolean;
}

function docComment(lines: string[], indent: string, comment: string | null, deprecated: boolean): void {
  if (!comment && !deprecated) return;
  lines.push(`${indent}/**`);
  for (const line of comment ? comment.split('\n') : []) lines.push(`${indent} * ${line.replace(/\*\//g, '* /')}`);
  if (deprecated) lines.push(`${indent} * @deprecated`);
  lines.push(`${indent} */`);
}

function isDeprecated(object: protobuf.ReflectionObject): boolean {
  return object.options?.['deprecated'] === true;
}

/**
 * The Trellis interfaces of one service: `<Service>Client` (what a typed client proxy offers: the
 * permissive input type in, the decoded output type back) and `<Service>Handlers` (what a server
 * implementation provides: the decoded request in, a permissive reply out). It takes the place of
 * proto-loader-gen-types' service file, whose types are for @grpc/grpc-js.
 */
export function renderServiceFile(service: protobuf.Service, options: ServiceFileOptions): string {
  const methods = service.methodsArray;
  const comments = options.includeComments;
  const streams = methods.some((method) => method.requestStream || method.responseStream);
  const lines: string[] = [
    `// Original file: ${(service.filename ?? 'null').replace(/\\/g, '/')}`,
    `// Written by trellis-proto-gen: Trellis client and handler types of ${service.fullName.slice(1)}.`,
    '',
    streams
      ? `import type { CallOptions, RequestStream, ResponseStream, ServerInvocation } from '@trellis/core';`
      : `import type { CallOptions, ServerInvocation } from '@trellis/core';`,
  ];

  const types = new Map<string, protobuf.Type>();
  for (const method of methods) {
    for (const type of [method.resolvedRequestType!, method.resolvedResponseType!]) types.set(type.fullName, type);
  }
  for (const name of [...types.keys()].sort()) lines.push(messageImportLine(types.get(name)!, service, options));
  lines.push('');

  const input = (type: protobuf.Type | null): string => inputName(options, typeInterfaceName(type!));
  const output = (type: protobuf.Type | null): string => outputName(options, typeInterfaceName(type!));

  lines.push('/** The fully qualified service name, as `loadProto(…).service()` and the decorators take it. */');
  lines.push(`export const ${service.name}Name = '${service.fullName.slice(1)}';`);
  lines.push('');

  if (comments) docComment(lines, '', service.comment, isDeprecated(service));
  lines.push(`export interface ${service.name}Client {`);
  for (const method of methods) {
    if (comments) docComment(lines, '  ', method.comment, isDeprecated(method));
    const request = input(method.resolvedRequestType);
    const response = output(method.resolvedResponseType);
    const argument = method.requestStream ? `requests: RequestStream<${request}>` : `request: ${request}`;
    const answer = method.responseStream ? `ResponseStream<${response}>` : `Promise<${response}>`;
    lines.push(`  ${localName(method.name)}(${argument}, options?: CallOptions): ${answer};`);
  }
  lines.push('}', '');

  if (comments) docComment(lines, '', service.comment, isDeprecated(service));
  lines.push(`export interface ${service.name}Handlers {`);
  for (const method of methods) {
    if (comments) docComment(lines, '  ', method.comment, isDeprecated(method));
    const request = output(method.resolvedRequestType);
    const reply = input(method.resolvedResponseType);
    const argument = method.requestStream ? `requests: AsyncIterable<${request}>` : `request: ${request}`;
    const answer = method.responseStream ? `AsyncIterable<${reply}>` : `Promise<${reply}> | ${reply}`;
    lines.push(`  ${localName(method.name)}(${argument}, call: ServerInvocation): ${answer};`);
  }
  lines.push('}', '');
  return lines.join('\n');
}
