import { parseArgs } from 'node:util';
import type { GenerateTypesOptions } from './generate-types.js';

export const USAGE = `Usage: trellis-proto-gen [options] -O <outDir> <file.proto>...

Writes TypeScript types for the messages (through proto-loader-gen-types) and, per service,
<Service>Client and <Service>Handlers interfaces for Trellis. Match the conversion options to the
ones given to loadProto(); both default to what gRPC users pass to proto-loader.

  -O, --outDir <dir>             output directory (required)
  -I, --includeDirs <dir>        include directory; repeat for several
      --keepCase                 keep field names as written (default: camelCase)
      --longs <String|Number|Long|BigInt>  64-bit integers in decoded messages (default: String)
      --enums <String|Number>    enums in decoded messages (default: String)
      --bytes <Buffer|String|Array>  bytes in decoded messages (default: Buffer)
      --[no-]defaults            decoded messages carry default values (default: on)
      --[no-]oneofs              decoded messages name the set oneof field (default: on)
      --arrays, --objects, --json    as in protobufjs's toObject (default: off)
      --includeComments          copy .proto comments into doc comments
      --inputTemplate <tpl>      input type names (default: %s)
      --outputTemplate <tpl>     output type names (default: %s__Output)
      --targetFileExtension <ext>    generated file extension (default: .ts)
      --importFileExtension <ext>    import specifier extension, '.js' for ESM (default: none)
  -v, --verbose
  -h, --help`;

export type CliCommand = { readonly help: true } | { readonly help: false; readonly options: GenerateTypesOptions };

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw new Error(`--${flag} must be one of ${allowed.join(', ')}; got "${value}"`);
}

/** Throws an Error with a one-line reason on bad input; cli.ts prints it with the usage. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    allowNegative: true,
    strict: true,
    options: {
      outDir: { type: 'string', short: 'O' },
      includeDirs: { type: 'string', short: 'I', multiple: true },
      keepCase: { type: 'boolean' },
      longs: { type: 'string' },
      enums: { type: 'string' },
      bytes: { type: 'string' },
      defaults: { type: 'boolean' },
      arrays: { type: 'boolean' },
      objects: { type: 'boolean' },
      oneofs: { type: 'boolean' },
      json: { type: 'boolean' },
      includeComments: { type: 'boolean' },
      inputTemplate: { type: 'string' },
      outputTemplate: { type: 'string' },
      targetFileExtension: { type: 'string' },
      importFileExtension: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { help: true };
  if (!values.outDir) throw new Error('--outDir (-O) is required');
  if (positionals.length === 0) throw new Error('no .proto files given');
  const { outDir, includeDirs, longs, enums, bytes, help: _help, ...rest } = values;
  return {
    help: false,
    options: {
      ...rest,
      files: positionals,
      outDir,
      ...(includeDirs ? { includeDirs } : {}),
      ...(longs !== undefined ? { longs: oneOf('longs', longs, ['String', 'Number', 'Long', 'BigInt'] as const) } : {}),
      ...(enums !== undefined ? { enums: oneOf('enums', enums, ['String', 'Number'] as const) } : {}),
      ...(bytes !== undefined ? { bytes: oneOf('bytes', bytes, ['Buffer', 'String', 'Array'] as const) } : {}),
    },
  };
}
