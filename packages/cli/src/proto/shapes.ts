import * as protobuf from 'protobufjs';
import { methodInfo, type MethodInfo } from './descriptors.js';
import { jsonName } from './json-mapping.js';

/** A field as `describe` shows it. */
export interface FieldShape {
  readonly name: string;
  readonly jsonName: string;
  readonly number: number;
  /** Scalar name (`int64`) or the full name of a message or enum. */
  readonly type: string;
  readonly label: 'singular' | 'optional' | 'repeated' | 'map';
  /** Map fields: the key type. */
  readonly keyType?: string;
  readonly oneof?: string;
}

export type TypeShape =
  | { readonly kind: 'message'; readonly name: string; readonly fields: readonly FieldShape[] }
  | { readonly kind: 'enum'; readonly name: string; readonly values: Readonly<Record<string, number>> };

export interface MethodShape {
  readonly name: string;
  readonly kind: MethodInfo['kind'];
  readonly requestType: string;
  readonly responseType: string;
  readonly idempotency: string;
}

export interface ServiceShape {
  readonly name: string;
  readonly methods: readonly MethodShape[];
}

function fullName(object: protobuf.ReflectionObject): string {
  return object.fullName.slice(1);
}

export function serviceShape(service: protobuf.Service): ServiceShape {
  return {
    name: fullName(service),
    methods: service.methodsArray.map((method) => {
      const { name, kind, requestType, responseType, idempotency } = methodInfo(service, method);
      return { name, kind, requestType, responseType, idempotency };
    }),
  };
}

export function typeShape(type: protobuf.Type | protobuf.Enum): TypeShape {
  if (type instanceof protobuf.Enum) return { kind: 'enum', name: fullName(type), values: { ...type.values } };
  return {
    kind: 'message',
    name: fullName(type),
    fields: type.fieldsArray.map((field) => {
      field.resolve();
      const resolved = field.resolvedType;
      const typeName = resolved ? fullName(resolved) : field.type;
      const isMap = field instanceof protobuf.MapField;
      // proto3 `optional` is a synthetic oneof named after the field: show it as the label instead.
      const synthetic = field.partOf !== null && field.partOf.name === `_${field.name}` && field.partOf.fieldsArray.length === 1;
      const label: FieldShape['label'] = isMap ? 'map' : field.repeated ? 'repeated' : synthetic || field.optional && field.options?.proto3_optional ? 'optional' : 'singular';
      return {
        name: field.name,
        jsonName: jsonName(field),
        number: field.id,
        type: typeName,
        label,
        ...(isMap ? { keyType: (field as protobuf.MapField).keyType } : {}),
        ...(field.partOf && !synthetic ? { oneof: field.partOf.name } : {}),
      };
    }),
  };
}

/** The message and enum types reachable from `roots`, each once, in the order first met. */
export function reachableTypes(roots: readonly (protobuf.Type | protobuf.Enum)[]): TypeShape[] {
  const seen = new Set<string>();
  const out: TypeShape[] = [];
  const visit = (type: protobuf.Type | protobuf.Enum): void => {
    if (seen.has(type.fullName)) return;
    seen.add(type.fullName);
    out.push(typeShape(type));
    if (type instanceof protobuf.Type) {
      for (const field of type.fieldsArray) {
        field.resolve();
        if (field.resolvedType) visit(field.resolvedType);
      }
    }
  };
  roots.forEach(visit);
  return out;
}

/** The method's signature as the .proto writes it: `rpc Chat (stream a.Msg) returns (stream a.Msg)`. */
export function signature(method: MethodShape): string {
  const requestStream = method.kind === 'client-streaming' || method.kind === 'bidi-streaming';
  const responseStream = method.kind === 'server-streaming' || method.kind === 'bidi-streaming';
  return `rpc ${method.name} (${requestStream ? 'stream ' : ''}${method.requestType}) returns (${responseStream ? 'stream ' : ''}${method.responseType})`;
}

/** A message or enum in .proto syntax. */
export function typeText(shape: TypeShape): string[] {
  if (shape.kind === 'enum') {
    return [`enum ${shape.name} {`, ...Object.entries(shape.values).map(([name, n]) => `  ${name} = ${n};`), '}'];
  }
  const lines = [`message ${shape.name} {`];
  const oneofs = new Map<string, FieldShape[]>();
  for (const field of shape.fields) {
    if (field.oneof !== undefined) {
      const group = oneofs.get(field.oneof);
      if (group === undefined) {
        oneofs.set(field.oneof, [field]);
        lines.push(`\u0000oneof:${field.oneof}`);
      } else group.push(field);
      continue;
    }
    lines.push(`  ${fieldText(field)}`);
  }
  return lines.flatMap((line) => {
    if (!line.startsWith('\u0000oneof:')) return [line];
    const name = line.slice(7);
    return [`  oneof ${name} {`, ...(oneofs.get(name) ?? []).map((f) => `    ${fieldText(f)}`), '  }'];
  }).concat('}');
}

function fieldText(field: FieldShape): string {
  const type = field.label === 'map' ? `map<${field.keyType}, ${field.type}>` : field.label === 'repeated' ? `repeated ${field.type}` : field.label === 'optional' ? `optional ${field.type}` : field.type;
  return `${type} ${field.name} = ${field.number};`;
}
