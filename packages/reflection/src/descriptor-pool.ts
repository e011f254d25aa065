import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { TrellisError } from '@trellis/core';
import * as protobuf from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';
import { ReflectionErrorCodes } from './errors.js';

// google/protobuf/{descriptor,api,type,source_context}.proto are not bundled with protobufjs's
// parser (only their JSON is shipped); registered so .proto files that import them load.
for (const name of ['descriptor', 'api', 'type', 'source_context']) {
  const file = `google/protobuf/${name}.proto`;
  if (!(file in protobuf.common)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    protobuf.common(file, require(`protobufjs/google/protobuf/${name}.json`) as protobuf.INamespace);
  }
}

type FileDescriptor = protobuf.Message & Record<string, unknown>;
type Editioned = protobuf.ReflectionObject & { _edition?: string };

/** .proto files and where they resolve: what a `ProtoPackage` of @trellis/codec-protobuf exposes (`files`, `includeDirs`). */
export interface ProtoFiles {
  readonly files: readonly string[];
  readonly includeDirs?: readonly string[];
}

/** One .proto file as reflection serves it. */
interface PoolFile {
  readonly name: string;
  readonly dependencies: readonly string[];
  readonly bytes: Uint8Array;
}

/**
 * The FileDescriptorProtos of a set of .proto files, as gRPC server reflection serves them: one per
 * source file (named as it is imported, relative to its include dir), with its real `dependency`
 * list and fully qualified type names, so a client (grpcurl, a Python descriptor pool) can link them.
 *
 * protobufjs's own Root#toDescriptor groups by package instead of by file, lists no dependencies
 * and writes relative type names; this builds each file from protobufjs's per-type descriptors and
 * fixes the names. Files are parsed with their field names as written (keepCase), whatever the
 * application's codec uses.
 */
export class DescriptorPool {
  private readonly files = new Map<string, PoolFile>();
  private readonly symbols = new Map<string, string>();
  /** extendee (no leading dot) → extension number → file. */
  private readonly extensions = new Map<string, Map<number, string>>();
  private readonly serviceNames: string[] = [];

  /**
   * The pool of what reflection is given: the `ProtoPackage`(s) the services were loaded from
   * (`loadProto` of @trellis/codec-protobuf carries its `files` and `includeDirs`), `{ files,
   * includeDirs }`, or a pool built elsewhere (returned as is). Include directories are searched in
   * the order given, without repeats.
   */
  static of(protos: ProtoFiles | readonly ProtoFiles[] | DescriptorPool): DescriptorPool {
    if (protos instanceof DescriptorPool) return protos;
    const list: readonly ProtoFiles[] = Array.isArray(protos) ? protos : [protos as ProtoFiles];
    const files = [...new Set(list.flatMap((p) => p.files))];
    const includeDirs = [...new Set(list.flatMap((p) => p.includeDirs ?? []))];
    return DescriptorPool.fromFiles(files, includeDirs);
  }

  /** Loads .proto files (resolved against `includeDirs`, like protoc's -I) and every file they import. */
  static fromFiles(files: readonly string[], includeDirs: readonly string[] = []): DescriptorPool {
    const dirs = includeDirs.map((dir) => resolve(dir));
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) => {
      if (target in protobuf.common || isAbsolute(target)) return target;
      for (const dir of dirs) {
        const candidate = join(dir, target);
        if (existsSync(candidate)) return candidate;
      }
      return origin ? join(origin, '..', target) : resolve(target);
    };
    try {
      root.loadSync([...files], { keepCase: true });
      root.resolveAll();
    } catch (error) {
      throw new TrellisError(ReflectionErrorCodes.PROTO_LOAD_FAILED, `reflection cannot load ${files.join(', ')} (includeDirs ${JSON.stringify(includeDirs)}): ${(error as Error).message}`, { cause: error });
    }
    const pool = new DescriptorPool();
    pool.addRoot(root, (filename) => {
      if (!isAbsolute(filename)) return filename;
      for (const dir of dirs) {
        const rel = relative(dir, filename);
        if (!rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
      }
      return filename;
    });
    return pool;
  }

  /** Adds every file of a resolved protobufjs root; `nameOf` maps an object's filename to the file's name. */
  addRoot(root: protobuf.Root, nameOf: (filename: string) => string = (f) => f): this {
    const byFile = new Map<string, { pkg: string; edition: string | undefined; objects: protobuf.ReflectionObject[] }>();
    const collect = (ns: protobuf.NamespaceBase) => {
      for (const nested of ns.nestedArray) {
        if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service || nested instanceof protobuf.Field) {
          if (!nested.filename) continue;
          const name = nameOf(nested.filename);
          let entry = byFile.get(name);
          if (entry === undefined) byFile.set(name, (entry = { pkg: ns.fullName.slice(1), edition: (nested as Editioned)._edition, objects: [] }));
          entry.objects.push(nested);
        } else if (nested instanceof protobuf.Namespace) {
          collect(nested);
        }
      }
    };
    collect(root);
    const fileOf = (object: protobuf.ReflectionObject | null | undefined) => (object?.filename ? nameOf(object.filename) : undefined);
    for (const [name, { pkg, edition, objects }] of byFile) {
      if (this.files.has(name)) continue;
      const deps = new Set<string>();
      const need = (object: protobuf.ReflectionObject | null | undefined) => {
        const file = fileOf(object);
        if (file !== undefined && file !== name) deps.add(file);
      };
      const file = descriptor.FileDescriptorProto.create({ name }) as FileDescriptor;
      if (pkg !== '') file.package = pkg;
      if (edition === 'proto3') file.syntax = 'proto3';
      const messageType: unknown[] = [];
      const enumType: unknown[] = [];
      const service: unknown[] = [];
      const extension: unknown[] = [];
      for (const object of objects) {
        if (object instanceof protobuf.Type) {
          messageType.push(this.describeType(object, edition, need, name));
        } else if (object instanceof protobuf.Enum) {
          enumType.push((object as unknown as { toDescriptor(): unknown }).toDescriptor());
          this.symbols.set(object.fullName.slice(1), name);
        } else if (object instanceof protobuf.Service) {
          service.push((object as unknown as { toDescriptor(): unknown }).toDescriptor());
          const serviceName = object.fullName.slice(1);
          this.symbols.set(serviceName, name);
          this.serviceNames.push(serviceName);
          for (const method of object.methodsArray) {
            this.symbols.set(`${serviceName}.${method.name}`, name);
            need(method.resolvedRequestType);
            need(method.resolvedResponseType);
          }
        } else if (object instanceof protobuf.Field) {
          extension.push(this.describeField(object, edition));
          this.registerExtension(object, name, need);
        }
      }
      Object.assign(file, { messageType, enumType, service, extension, dependency: [...deps] });
      this.files.set(name, { name, dependencies: [...deps], bytes: descriptor.FileDescriptorProto.encode(file).finish() });
    }
    return this;
  }

  /** The encoded FileDescriptorProto of `name` followed by those of its transitive dependencies. */
  fileWithDependencies(name: string): Uint8Array[] | undefined {
    if (!this.files.has(name)) return undefined;
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const entry = this.files.get(file);
      if (entry === undefined) return;
      out.push(entry.bytes);
      for (const dep of entry.dependencies) visit(dep);
    };
    visit(name);
    return out;
  }

  /** The file that defines a fully qualified symbol (message, enum, service, method, extension). */
  fileContainingSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.startsWith('.') ? symbol.slice(1) : symbol);
  }

  fileContainingExtension(extendee: string, number: number): string | undefined {
    return this.extensions.get(extendee.startsWith('.') ? extendee.slice(1) : extendee)?.get(number);
  }

  extensionNumbers(extendee: string): number[] | undefined {
    const numbers = this.extensions.get(extendee.startsWith('.') ? extendee.slice(1) : extendee);
    return numbers === undefined ? (this.symbols.has(extendee) ? [] : undefined) : [...numbers.keys()].sort((a, b) => a - b);
  }

  /** Every service defined in the pool's files, in load order. */
  get services(): readonly string[] {
    return this.serviceNames;
  }

  get fileNames(): readonly string[] {
    return [...this.files.keys()];
  }

  private describeType(type: protobuf.Type, edition: string | undefined, need: (o: protobuf.ReflectionObject | null | undefined) => void, file: string): unknown {
    const out = (type as unknown as { toDescriptor(edition?: string): Record<string, unknown> }).toDescriptor(edition);
    this.qualify(type, out, need, file);
    return out;
  }

  private describeField(field: protobuf.Field, edition: string | undefined): unknown {
    const out = (field as unknown as { toDescriptor(edition?: string): Record<string, unknown> }).toDescriptor(edition);
    if (field.resolvedType) out.typeName = field.resolvedType.fullName;
    return out;
  }

  private registerExtension(field: protobuf.Field, file: string, need: (o: protobuf.ReflectionObject | null | undefined) => void): void {
    const target = (field as unknown as { extensionField?: protobuf.Field }).extensionField?.parent;
    if (!target) return;
    need(target);
    const extendee = target.fullName.slice(1);
    let numbers = this.extensions.get(extendee);
    if (numbers === undefined) this.extensions.set(extendee, (numbers = new Map()));
    numbers.set(field.id, file);
    this.symbols.set(field.fullName.slice(1), file);
  }

  /** Rewrites protobufjs's relative type names as fully qualified ones, recursively, and indexes symbols. */
  private qualify(type: protobuf.Type, out: Record<string, unknown>, need: (o: protobuf.ReflectionObject | null | undefined) => void, file: string): void {
    this.symbols.set(type.fullName.slice(1), file);
    const fields = (out.field ?? []) as Record<string, unknown>[];
    const nestedTypes = (out.nestedType ?? []) as Record<string, unknown>[];
    for (const fieldOut of fields) {
      const field = type.fields[fieldOut.name as string];
      if (field === undefined) continue;
      need(field.resolvedType);
      if (field instanceof protobuf.MapField) {
        // protobufjs names the entry after the field as written; protoc (and every descriptor
        // pool's validation) expects CamelCase + "Entry".
        const entry = nestedTypes.find((n) => n.name === fieldOut.typeName);
        const entryName = mapEntryName(field.name);
        if (entry !== undefined) entry.name = entryName;
        fieldOut.typeName = `${type.fullName}.${entryName}`;
        const value = ((entry?.field ?? []) as Record<string, unknown>[])[1];
        if (value !== undefined && field.resolvedType) value.typeName = field.resolvedType.fullName;
      } else if (field.resolvedType) {
        fieldOut.typeName = field.resolvedType.fullName;
      }
    }
    for (const nestedOut of nestedTypes) {
      const nested = type.nested?.[nestedOut.name as string];
      if (nested instanceof protobuf.Type) this.qualify(nested, nestedOut, need, file);
    }
    for (const enumOut of (out.enumType ?? []) as Record<string, unknown>[]) {
      this.symbols.set(`${type.fullName.slice(1)}.${enumOut.name as string}`, file);
    }
    for (const nested of type.nestedArray) {
      if (nested instanceof protobuf.Field) this.registerExtension(nested, file, need);
    }
  }
}

/** protoc's map entry name: `rpcs_by_peer` → `RpcsByPeerEntry`. */
function mapEntryName(fieldName: string): string {
  let out = '';
  let upper = true;
  for (const ch of fieldName) {
    if (ch === '_') {
      upper = true;
      continue;
    }
    out += upper ? ch.toUpperCase() : ch;
    upper = false;
  }
  return `${out}Entry`;
}
