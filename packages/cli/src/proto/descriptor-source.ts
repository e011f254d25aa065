import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import type { TrellisError } from '@trellis/core';
import { loadProtoAsync, type ProtoLoadOptions, type ProtoPackage } from '@trellis/codec-protobuf';
import { usage } from '../cli-error.js';
import { Descriptors } from './descriptors.js';

/**
 * Where `describe` and `call` get services and message types from. Today: .proto files
 * (`--proto`). Server reflection (gRPC's reflection service) is another source of the same
 * descriptors; it plugs in here without changing the commands.
 */
export interface DescriptorSource {
  /** For messages: `greeter.proto`, `reflection at 10.0.0.7:50051`. */
  readonly origin: string;
  load(): Promise<Descriptors>;
}

/**
 * How the CLI decodes messages for JSON: field names as in the .proto (renamed to JSON names by
 * json-mapping), int64 as decimal strings, enums by name, bytes as base64, NaN/Infinity as strings,
 * defaults filled in (an operator wants to see `count: 0`), no virtual oneof properties.
 */
const CLI_LOAD_OPTIONS: ProtoLoadOptions = {
  keepCase: true, longs: String, enums: String, bytes: String, defaults: true, oneofs: false, json: true,
};

/** .proto files, loaded with @trellis/codec-protobuf as a provider loads them. */
export class ProtoFileSource implements DescriptorSource {
  readonly origin: string;

  constructor(private readonly files: readonly string[], private readonly includeDirs: readonly string[]) {
    this.origin = files.join(', ');
  }

  async load(): Promise<Descriptors> {
    for (const file of this.files) {
      if (!existsSync(file)) throw usage(`--proto ${file}: no such file`, 'give the path of the .proto file (and -I for the directories of its imports)');
    }
    let loaded: ProtoPackage;
    try {
      const { files, includeDirs } = locate(this.files, this.includeDirs);
      loaded = await loadProtoAsync(files, { ...CLI_LOAD_OPTIONS, includeDirs });
    } catch (error) {
      throw usage((error as TrellisError).message, 'give the .proto with --proto, and the directories its imports are in with -I');
    }
    return new Descriptors(loaded, this.origin);
  }
}

/**
 * proto-loader looks every file up in the include directories (and warns when it falls back to the
 * path as given): name each file relative to the -I directory it is under, else add its own
 * directory, as protoc users expect from `--proto_path`.
 */
function locate(files: readonly string[], dirs: readonly string[]): { files: string[]; includeDirs: string[] } {
  const includeDirs = [...dirs];
  const located = files.map((file) => {
    const absolute = resolve(file);
    for (const dir of dirs) {
      const inside = relative(resolve(dir), absolute);
      if (!inside.startsWith('..') && !isAbsolute(inside) && existsSync(absolute)) return inside;
    }
    const own = dirname(absolute);
    if (!includeDirs.includes(own)) includeDirs.push(own);
    return basename(absolute);
  });
  return { files: located, includeDirs };
}

/** The source the flags ask for; without one, a usage error that says what to pass. */
export function descriptorSource(flags: { proto?: readonly string[]; importPath?: readonly string[] }): DescriptorSource {
  if (flags.proto === undefined || flags.proto.length === 0) {
    throw usage(
      'no descriptors: this command needs the service\'s .proto',
      'pass --proto file.proto (repeatable; -I dir for imports). Server reflection is not available yet.',
    );
  }
  return new ProtoFileSource(flags.proto, flags.importPath ?? []);
}
