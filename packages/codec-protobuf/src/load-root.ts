import { TrellisError } from '@trellis/core';
// proto-loader's own loader (the function behind its loadSync and proto-loader-gen-types), so
// include-path resolution and parse options behave exactly as under @grpc/grpc-js. It is not part of
// proto-loader's documented API, hence the exact version pin in package.json. Its public loadSync
// only returns descriptors, and rebuilding protobufjs types from them loses map fields.
import { addCommonProtos, loadProtosWithOptions, loadProtosWithOptionsSync } from '@grpc/proto-loader/build/src/util';
import type * as protobuf from 'protobufjs';
import { ProtoErrorCodes } from './errors.js';
import type { ResolvedLoadOptions } from './load-options.js';

// The well-known protos protobufjs does not bundle (descriptor, api, type, source_context), as
// proto-loader registers them when it is first imported. Idempotent.
addCommonProtos();

function loadFailed(files: readonly string[], options: ResolvedLoadOptions, error: unknown): TrellisError {
  const reason = error instanceof Error ? error.message : String(error);
  const dirs = options.parse.includeDirs;
  const where = dirs?.length ? `includeDirs [${dirs.join(', ')}]` : 'no includeDirs';
  return new TrellisError(
    ProtoErrorCodes.LOAD_FAILED,
    `cannot load ${files.join(', ')} (${where}): ${reason}. Check the file paths and that every import is under an include dir.`,
    { cause: error },
  );
}

export function loadRootSync(files: readonly string[], options: ResolvedLoadOptions): protobuf.Root {
  try {
    return loadProtosWithOptionsSync([...files], options.parse);
  } catch (error) {
    throw loadFailed(files, options, error);
  }
}

export async function loadRoot(files: readonly string[], options: ResolvedLoadOptions): Promise<protobuf.Root> {
  try {
    return await loadProtosWithOptions([...files], options.parse);
  } catch (error) {
    throw loadFailed(files, options, error);
  }
}
