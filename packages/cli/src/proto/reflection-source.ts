import { Code, RpcError } from '@trellis/core';
import { ReflectionClient, type OpenReflectionStream, type ReflectedFile } from '@trellis/reflection';
import * as protobuf from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';
import { CliError, usage } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import type { DescriptorSource } from './descriptor-source.js';
import { Descriptors } from './descriptors.js';

/**
 * The server whose reflection is asked, and how: over gRPC (`url` grpc:// or grpcs://) or over the
 * native protocol (a Trellis server with `addReflection`, @trellis/reflection).
 */
export interface ReflectionTarget {
  readonly protocol: 'grpc' | 'trellis';
  /** `host:port`, for messages. */
  readonly display: string;
  /** gRPC: whether the server was dialled over TLS (grpcs://), for hints. */
  readonly tls?: boolean;
  /** Opens the reflection streams (the connection stays the caller's); `close` runs after the load. */
  connect(): Promise<{ open: OpenReflectionStream; close?(): Promise<void> | void }>;
}

/**
 * Descriptors from a server's reflection service (grpc.reflection.v1, falling back to v1alpha), as
 * grpcurl gets them, over gRPC or the native protocol: the services it lists, then every file
 * defining them and every file those import. Linked with protobufjs's descriptor support, then map
 * fields are rebuilt (see below).
 */
export class ReflectionSource implements DescriptorSource {
  readonly origin: string;

  constructor(
    private readonly target: ReflectionTarget,
    private readonly options: {
      /** Why a dial to `host:port` failed, if the client reported it (dial-failures.ts). */
      readonly dialFailure?: (display: string) => string | undefined;
      /** Remarks that do not stop the command (a service reflection cannot describe). */
      readonly warn?: (text: string) => void;
    } = {},
  ) {
    this.origin = `reflection at ${target.display}`;
  }

  async load(): Promise<Descriptors> {
    let files: ReflectedFile[];
    let version: string | undefined;
    let connection: Awaited<ReturnType<ReflectionTarget['connect']>> | undefined;
    let reflection: ReflectionClient | undefined;
    try {
      connection = await this.target.connect();
      reflection = new ReflectionClient(connection.open);
      // A listed service the server cannot describe (NOT_FOUND) is left out, not fatal: the others still work.
      for (const service of await reflection.listServices()) {
        try {
          await reflection.fileContainingSymbol(service);
        } catch (error) {
          if (!(error instanceof RpcError) || error.code !== Code.NOT_FOUND) throw error;
          this.options.warn?.(`reflection at ${this.target.display} lists ${service} but cannot describe it: ${error.message}`);
        }
      }
      files = await reflection.filesFor([]);
      version = reflection.version;
    } catch (error) {
      throw this.failed(RpcError.from(error));
    } finally {
      reflection?.close();
      await connection?.close?.();
    }
    return new Descriptors({ root: linkFiles(files, this.origin) }, `${this.origin} (${version ?? 'v1'})`);
  }

  private failed(error: RpcError): CliError {
    const where = this.target.display;
    const native = this.target.protocol === 'trellis';
    if (error.code === Code.UNIMPLEMENTED) {
      const server = native ? 'Trellis server' : 'gRPC server';
      return new CliError(ExitCode.NOT_FOUND, `the ${server} at ${where} does not serve reflection (grpc.reflection.v1 nor v1alpha): ${error.message}`, {
        hint: native
          ? 'pass the service\'s .proto with --proto file.proto (-I dir for its imports), or serve reflection: addReflection(server, protos) of @trellis/reflection'
          : 'pass the service\'s .proto with --proto file.proto (-I dir for its imports)',
        details: { status: { code: Code[error.code], message: error.message } },
      });
    }
    const tls = this.target.tls === true;
    const dial = error.code === Code.UNAVAILABLE && !error.mayHaveRun ? this.options.dialFailure?.(where) : undefined;
    const hint = error.code === Code.UNAVAILABLE
      ? dial !== undefined && /certificate|self.signed|SSL|TLS/i.test(dial)
        ? 'the server\'s certificate is not trusted: pass its CA with --cacert ca.pem (or --insecure for a test server)'
        : native
          ? `is a Trellis server listening at ${where}? (a gRPC server needs grpc://)`
          : `is a gRPC server listening at ${where}?${tls ? ' (a cleartext server needs grpc://)' : ' (a TLS server needs grpcs://)'}`
      : error.code === Code.CANCELLED && !tls && !native ? 'the server reset the call; a TLS server called over cleartext does that: try grpcs://'
        : error.code === Code.DEADLINE_EXCEEDED ? 'raise --timeout' : undefined;
    const message = `reflection at ${where} failed: ${Code[error.code] ?? error.code} (${error.code}): ${error.message}${dial === undefined ? '' : `\n  dial: ${dial}`}`;
    return new CliError(ExitCode.RPC_FAILED, message, {
      hint,
      details: { status: { code: Code[error.code], number: error.code, message: error.message }, endpoint: where, ...(dial === undefined ? {} : { dial }) },
    });
  }
}

/**
 * FileDescriptorProtos → a resolved protobufjs root. protobufjs's Root.fromDescriptor turns a map
 * field into a `repeated XEntry` message field (descriptors encode maps that way); each is put back
 * as the MapField the .proto declared, so describe shows `map<k, v>` and JSON maps are objects.
 */
export function linkFiles(files: readonly ReflectedFile[], origin: string): protobuf.Root {
  const decoded = files.map((f) => descriptor.FileDescriptorProto.decode(f.bytes) as unknown as FileProto);
  let root: protobuf.Root;
  try {
    root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): protobuf.Root }).fromDescriptor({ file: decoded });
    restoreMaps(root, mapEntries(decoded));
    root.resolveAll();
  } catch (error) {
    throw usage(`the descriptors from ${origin} do not link: ${(error as Error).message}`, 'pass the service\'s .proto with --proto instead');
  }
  return root;
}

interface MessageProto {
  name?: string;
  nestedType?: MessageProto[];
  options?: { mapEntry?: boolean };
}

interface FileProto {
  package?: string;
  messageType?: MessageProto[];
}

/** Full names (no leading dot) of the messages the descriptors mark `map_entry` (protoc names them `XEntry`; protobufjs, `X`). */
function mapEntries(files: readonly FileProto[]): Set<string> {
  const out = new Set<string>();
  const walk = (scope: string, message: MessageProto): void => {
    const name = scope === '' ? message.name ?? '' : `${scope}.${message.name ?? ''}`;
    if (message.options?.mapEntry) out.add(name);
    for (const nested of message.nestedType ?? []) walk(name, nested);
  };
  for (const file of files) for (const message of file.messageType ?? []) walk(file.package ?? '', message);
  return out;
}

function restoreMaps(namespace: protobuf.NamespaceBase, entries: ReadonlySet<string>): void {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) restoreTypeMaps(nested, entries);
    if (nested instanceof protobuf.Namespace) restoreMaps(nested, entries);
  }
}

function restoreTypeMaps(type: protobuf.Type, entries: ReadonlySet<string>): void {
  for (const field of [...type.fieldsArray]) {
    if (!field.repeated || field instanceof protobuf.MapField) continue;
    const entryName = field.type.slice(field.type.lastIndexOf('.') + 1);
    const entry = type.nested?.[entryName];
    if (!(entry instanceof protobuf.Type) || !entries.has(entry.fullName.slice(1)) || !isMapEntry(entry)) continue;
    const key = entry.fields['key']!;
    const value = entry.fields['value']!;
    const map = new protobuf.MapField(field.name, field.id, key.type, value.type.startsWith('.') ? value.type : qualifyFrom(entry, value.type));
    replaceInPlace(type, field, map);
    type.remove(entry);
  }
}

/**
 * Swaps a field for another, keeping the declaration order that describe prints: protobufjs lists
 * fields in the key order of `Type#fields`, so the keys are rewritten in the old order and its
 * field caches dropped. (A map field is never in a oneof, so no oneof is touched.)
 */
function replaceInPlace(type: protobuf.Type, old: protobuf.Field, replacement: protobuf.MapField): void {
  const order = Object.keys(type.fields);
  type.remove(old);
  type.add(replacement);
  const fields = type.fields as Record<string, protobuf.Field>;
  const entries = order.map((name) => [name, fields[name]!] as const);
  for (const name of order) delete fields[name];
  for (const [name, field] of entries) fields[name] = field;
  const caches = type as unknown as { _fieldsArray: unknown; _fieldsById: unknown };
  caches._fieldsArray = null;
  caches._fieldsById = null;
}

/** A map entry has exactly `key = 1` and `value = 2`. */
function isMapEntry(entry: protobuf.Type): boolean {
  return entry.fields['key']?.id === 1 && entry.fields['value']?.id === 2 && entry.fieldsArray.length === 2;
}

/** A type name relative to the entry (protobufjs resolves it from the entry's scope) made absolute, as the entry is removed. */
function qualifyFrom(entry: protobuf.Type, name: string): string {
  const value = entry.fields['value']!;
  const resolved = value.resolve().resolvedType;
  return resolved ? resolved.fullName : name;
}
