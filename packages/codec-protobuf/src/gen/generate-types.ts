import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import * as protobuf from 'protobufjs';
import { loadRoot } from '../load-root.js';
import { runGenTypes } from './run-gen-types.js';
import { renderServiceFile } from './service-file.js';
import { definitionPath } from './type-names.js';

/**
 * Options of `generateTypes` / `trellis-proto-gen`. The conversion options describe how messages are
 * decoded at run time and must match the `loadProto` options; the defaults match its defaults.
 */
export interface GenerateTypesOptions {
  /** The .proto files (absolute, or relative to the cwd or an include dir). */
  readonly files: readonly string[];
  /** Where to write; one file per message, enum and service, laid out by package. */
  readonly outDir: string;
  readonly includeDirs?: readonly string[];
  /** Default false (camelCase fields), as in `loadProto`. */
  readonly keepCase?: boolean;
  /** Default 'String'. */
  readonly longs?: 'String' | 'Number' | 'Long' | 'BigInt';
  /** Default 'String'. */
  readonly enums?: 'String' | 'Number';
  /** Default 'Buffer'. */
  readonly bytes?: 'Buffer' | 'String' | 'Array';
  /** Default true. */
  readonly defaults?: boolean;
  /** Default false. */
  readonly arrays?: boolean;
  /** Default false. */
  readonly objects?: boolean;
  /** Default true. */
  readonly oneofs?: boolean;
  /** Default false. */
  readonly json?: boolean;
  /** Copy .proto comments into the generated doc comments. Default false. */
  readonly includeComments?: boolean;
  /** Default '%s'. */
  readonly inputTemplate?: string;
  /** Default '%s__Output'. */
  readonly outputTemplate?: string;
  /** Default '.ts'. */
  readonly targetFileExtension?: string;
  /** Appended to relative import specifiers; '.js' for ESM projects. Default ''. */
  readonly importFileExtension?: string;
  readonly verbose?: boolean;
}

export interface GenerateTypesResult {
  /** The service files written (absolute paths). */
  readonly serviceFiles: readonly string[];
}

function genTypesArgs(options: GenerateTypesOptions): string[] {
  const args = ['--outDir', options.outDir];
  for (const dir of options.includeDirs ?? []) args.push('--includeDirs', dir);
  const flags = {
    keepCase: options.keepCase ?? false,
    defaults: options.defaults ?? true,
    arrays: options.arrays ?? false,
    objects: options.objects ?? false,
    oneofs: options.oneofs ?? true,
    json: options.json ?? false,
    includeComments: options.includeComments ?? false,
  };
  for (const [flag, on] of Object.entries(flags)) if (on) args.push(`--${flag}`);
  // proto-loader-gen-types knows no BigInt: it writes Long, which fixMessageFile() turns into bigint.
  const longs = options.longs === 'BigInt' ? 'Long' : (options.longs ?? 'String');
  args.push(`--longs=${longs}`, `--enums=${options.enums ?? 'String'}`, `--bytes=${options.bytes ?? 'Buffer'}`);
  args.push(`--inputTemplate=${options.inputTemplate ?? '%s'}`, `--outputTemplate=${options.outputTemplate ?? '%s__Output'}`);
  args.push(`--targetFileExtension=${options.targetFileExtension ?? '.ts'}`);
  args.push(`--importFileExtension=${options.importFileExtension ?? ''}`);
  return [...args, ...options.files];
}

/** Top-level messages, enums and services: one generated file each. */
function fileDefinitions(namespace: protobuf.NamespaceBase, into: protobuf.ReflectionObject[]): protobuf.ReflectionObject[] {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) into.push(nested);
    else if (nested instanceof protobuf.Namespace) fileDefinitions(nested, into);
  }
  return into;
}

/**
 * Message files import `Long`/`AnyExtension` from '@grpc/proto-loader', which an application using
 * pnpm cannot resolve unless it depends on it itself; this package re-exports both types.
 * With `longs: 'BigInt'`, int64 fields were generated as `Long` (proto-loader-gen-types has no BigInt
 * mode): decoded fields become `bigint`, and the fields you send also accept one (encoding does).
 */
async function fixMessageFile(path: string, longs: GenerateTypesOptions['longs']): Promise<void> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  let fixed = source.replace(/from '@grpc\/proto-loader';/g, `from '@trellis/codec-protobuf';`);
  if (longs === 'BigInt') {
    // `(Long)` is only ever an output field (scalar, repeated or map value); inputs are permissive.
    fixed = fixed.replace(/\(Long\)/g, '(bigint)').replace(/\(number \| string \| Long\)/g, '(number | string | bigint | Long)');
  }
  if (fixed !== source) await writeFile(path, fixed);
}

/**
 * Runs proto-loader-gen-types for the message and enum types, then writes each service's Trellis
 * client and handler interfaces in place of its grpc-js service file.
 */
export async function generateTypes(options: GenerateTypesOptions): Promise<GenerateTypesResult> {
  const extension = options.targetFileExtension ?? '.ts';
  // Loaded first, so a missing file or a parse error is reported once, with Trellis's message.
  const root = await loadRoot(options.files, {
    parse: { includeDirs: [...(options.includeDirs ?? [])], keepCase: options.keepCase ?? false, alternateCommentMode: true },
    conversion: {},
  });
  await runGenTypes(genTypesArgs(options), options.verbose ?? false);

  const serviceFiles: string[] = [];
  for (const definition of fileDefinitions(root, [])) {
    const path = join(resolve(options.outDir), definitionPath(definition) + extension);
    if (definition instanceof protobuf.Service) {
      const source = renderServiceFile(definition, {
        includeComments: options.includeComments ?? false,
        inputTemplate: options.inputTemplate ?? '%s',
        outputTemplate: options.outputTemplate ?? '%s__Output',
        importFileExtension: options.importFileExtension ?? '',
      });
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, source);
      serviceFiles.push(path);
      if (options.verbose) console.log(`Writing ${path} (Trellis client and handlers)`);
    } else {
      await fixMessageFile(path, options.longs);
    }
  }
  return { serviceFiles };
}
