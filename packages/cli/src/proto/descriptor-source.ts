import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import type { TrellisError } from '@trellis/core';
import { loadProtoAsync, type ProtoLoadOptions, type ProtoPackage } from '@trellis/codec-protobuf';
import { usage } from '../cli-error.js';
import { Descriptors } from './descriptors.js';
import { CLI_CONVERSION } from './message-bytes.js';

/**
 * Where `describe` and `call` get services and message types from: .proto files (`--proto`), or a
 * server's reflection service, over gRPC or the native protocol (reflection-source.ts).
 */
export interface DescriptorSource {
  /** For messages: `greeter.proto`, `reflection at 10.0.0.7:50051`. */
  readonly origin: string;
  load(): Promise<Descriptors>;
}

/** Field names as in the .proto (renamed to JSON names by json-mapping), converted as message-bytes.ts says. */
const CLI_LOAD_OPTIONS: ProtoLoadOptions = { keepCase: true, ...CLI_CONVERSION } as ProtoLoadOptions;

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

/**
 * The source the flags ask for: the .proto files when given, else the reflection of the server the
 * command is pointed at; with neither, a usage error that says what to pass.
 */
export function descriptorSource(flags: { proto?: readonly string[]; importPath?: readonly string[] }, reflection?: () => DescriptorSource): DescriptorSource {
  if (flags.proto === undefined || flags.proto.length === 0) {
    if (reflection !== undefined) return reflection();
    throw usage(
      'no descriptors: this command needs the service\'s .proto',
      'pass --proto file.proto (repeatable; -I dir for imports), or point it at a server that serves reflection (host:port, grpc://host:port)',
    );
  }
  return new ProtoFileSource(flags.proto, flags.importPath ?? []);
}
