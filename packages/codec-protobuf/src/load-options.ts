import { invalidOption } from '@trellis/core';
import { rejectUnknownKeys } from '@trellis/core/spi';
import type { IConversionOptions } from 'protobufjs';

/**
 * Options of `loadProto`: proto-loader's loading options plus protobufjs's conversion options.
 * The defaults are what a gRPC user passes to proto-loader in practice, so decoded messages look the
 * same as under @grpc/grpc-js and the types from `trellis-proto-gen` match them.
 */
export interface ProtoLoadOptions {
  /** Directories searched for the files and their imports, in order (proto-loader's `includeDirs`). */
  readonly includeDirs?: readonly string[];
  /** Keep field names as written (`delay_ms`) instead of camelCase (`delayMs`). Default false. */
  readonly keepCase?: boolean;
  /** Also read `//` comments (only matters to tools that read comments). Default false. */
  readonly alternateCommentMode?: boolean;
  /**
   * How 64-bit integers are decoded: `String` (default, exact), `Number` (loses precision past 2^53),
   * `BigInt`; an explicit `undefined` gives protobufjs `Long` objects. Encoding accepts all of these.
   */
  readonly longs?: typeof String | typeof Number | typeof BigInt | undefined;
  /** How enums are decoded: `String` (default, the value's name) or `Number`. Encoding accepts both. */
  readonly enums?: typeof String | typeof Number;
  /** How bytes are decoded: `Buffer` (default), `String` (base64) or `Array`. */
  readonly bytes?: typeof Buffer | typeof String | typeof Array;
  /** Fill absent fields with their default values. Default true. */
  readonly defaults?: boolean;
  /** Fill absent repeated fields with `[]` even when `defaults` is false. Default false. */
  readonly arrays?: boolean;
  /** Fill absent map fields with `{}` even when `defaults` is false. Default false. */
  readonly objects?: boolean;
  /** Set each oneof's virtual property to the name of the field that is present. Default true. */
  readonly oneofs?: boolean;
  /** NaN/Infinity as strings, google.protobuf.Any decoded by its type URL. Default false. */
  readonly json?: boolean;
}

/** The defaults, exported so callers and docs can show them. */
export const DEFAULT_LOAD_OPTIONS = Object.freeze({
  keepCase: false,
  alternateCommentMode: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: false,
  objects: false,
  oneofs: true,
  json: false,
} satisfies ProtoLoadOptions);

export interface ResolvedLoadOptions {
  readonly parse: { includeDirs?: string[]; keepCase: boolean; alternateCommentMode: boolean };
  readonly conversion: Readonly<IConversionOptions>;
}

const CONVERSION_KEYS = ['longs', 'enums', 'bytes', 'defaults', 'arrays', 'objects', 'oneofs', 'json'] as const;

// Every key (the `satisfies` makes a key added to ProtoLoadOptions but not here a compile error): a
// typo such as `keepcase` is refused with a "did you mean" hint, not ignored (the names would change).
const LOAD_OPTION_KEYS = Object.keys({
  includeDirs: true, keepCase: true, alternateCommentMode: true, longs: true, enums: true, bytes: true, defaults: true, arrays: true,
  objects: true, oneofs: true, json: true,
} satisfies Record<keyof ProtoLoadOptions, true>);

/** `key in options` rather than `??`, so an explicit `longs: undefined` (Long objects) is honoured. */
function pick<K extends keyof ProtoLoadOptions>(options: ProtoLoadOptions, key: K): ProtoLoadOptions[K] {
  return key in options ? options[key] : (DEFAULT_LOAD_OPTIONS as ProtoLoadOptions)[key];
}

export function resolveLoadOptions(options: ProtoLoadOptions = {}): ResolvedLoadOptions {
  rejectUnknownKeys('loadProto', options, LOAD_OPTION_KEYS);
  // A single string would otherwise be spread into one directory per character.
  if (options.includeDirs !== undefined && !Array.isArray(options.includeDirs)) {
    throw invalidOption('includeDirs', options.includeDirs, 'an array of directories');
  }
  const conversion: IConversionOptions = {};
  for (const key of CONVERSION_KEYS) {
    const value = pick(options, key);
    // protobufjs treats Buffer like "no conversion" for bytes; leaving it out keeps its fast branch.
    if (value !== undefined && !(key === 'bytes' && value === Buffer)) (conversion as Record<string, unknown>)[key] = value;
  }
  return {
    parse: {
      ...(options.includeDirs ? { includeDirs: [...options.includeDirs] } : {}),
      keepCase: pick(options, 'keepCase') ?? false,
      alternateCommentMode: pick(options, 'alternateCommentMode') ?? false,
    },
    // One frozen object per package: toObject reads it on every decode.
    conversion: Object.freeze(conversion),
  };
}
