import type { MessageCodec } from '@trellis/core';
import * as protobuf from 'protobufjs';
import { ProtoCodecError } from './codec-error.js';
import { directEncoder, isPlainObject, objectEncoder } from './direct-encoder.js';
import { fastUtil } from './fast-long.js';
import { ObjectDecoders, type ObjectDecoder } from './object-decoder.js';
import { strictReader } from './strict-reader.js';
import { valueCheck } from './strict-values.js';

type FromObject = (object: unknown, depth?: number) => protobuf.Message;
type ToObject = (message: protobuf.Message, options: protobuf.IConversionOptions, depth?: number) => unknown;

/** What the generated converters call on a nested message type: `types[i].fromObject(...)`. */
interface Converters {
  fromObject: FromObject;
  toObject: ToObject;
}

/**
 * Builds and caches one codec per message type of a loaded root, with the conversion options of
 * the package it belongs to.
 *
 * Encode is `fromObject` then `encode`: fromObject is what lets callers pass plain objects with
 * string int64s, enum names and base64 bytes, exactly as proto-loader's serializers accept, and it
 * costs ~50 ns for a small message once int64 parsing takes the fast path (see fast-long.ts).
 * Decode reads the bytes straight into the object `toObject` would give (object-decoder.ts); for a
 * type it does not cover, `decode` over a bounds-checked reader (see strict-reader.ts), then `toObject`. The
 * converters are protobufjs's own generated code, built with the fast-long scope; encode/decode
 * stay protobufjs's (they never convert longs from text).
 */
export class CodecFactory {
  private readonly converters = new Map<protobuf.Type, Converters>();
  private readonly codecs = new Map<protobuf.Type, MessageCodec>();
  private readonly decoders: ObjectDecoders;

  constructor(private readonly conversion: Readonly<protobuf.IConversionOptions>) {
    this.decoders = new ObjectDecoders(conversion, (type, message) => this.convertersFor(type).toObject(message, conversion));
  }

  codec(type: protobuf.Type): MessageCodec {
    let codec = this.codecs.get(type);
    if (!codec) {
      codec = createCodec(type, this.convertersFor(type), this.conversion, this.decoders.decoderFor(type));
      this.codecs.set(type, codec);
    }
    return codec;
  }

  private convertersFor(type: protobuf.Type): Converters {
    const cached = this.converters.get(type);
    if (cached) return cached;
    // Types with a protobufjs wrapper (google.protobuf.Any) keep their wrapped converters: the
    // wrapper's JSON handling is the semantics users expect; they are rare on hot paths.
    if (protobuf.wrappers[type.fullName]) {
      const wrapped: Converters = {
        fromObject: (object) => type.fromObject(object as Record<string, unknown>),
        toObject: (message, options) => type.toObject(message, options),
      };
      this.converters.set(type, wrapped);
      return wrapped;
    }
    // Registered before the nested types are built, so recursive message types terminate.
    const converters = {} as Converters;
    this.converters.set(type, converters);
    const types = type.fieldsArray.map((field) => {
      const resolved = field.resolve().resolvedType;
      return resolved instanceof protobuf.Type ? this.convertersFor(resolved) : resolved;
    });
    const scope = { types, util: fastUtil };
    // fromObject's generated code reads `this.ctor`; a plain data property beats Type's getter.
    const self = { ctor: type.ctor };
    const fromObject = (protobuf.converter.fromObject(type)(scope) as FromObject).bind(self);
    // Values fromObject would coerce in silence (an int64 of 'abc', an unknown enum name) are
    // refused first; nested types run their own check through their own converter.
    const check = valueCheck(type);
    converters.fromObject = check === undefined ? fromObject : (object, depth) => {
      check(object);
      return fromObject(object, depth);
    };
    converters.toObject = protobuf.converter.toObject(type)(scope) as ToObject;
    return converters;
  }
}

function createCodec(
  type: protobuf.Type,
  converters: Converters,
  conversion: Readonly<protobuf.IConversionOptions>,
  objectDecoder: ObjectDecoder | undefined,
): MessageCodec {
  const typeName = type.fullName.slice(1);
  const { fromObject, toObject } = converters;
  const codec: MessageCodec = {
    encode(message: unknown): Uint8Array {
      try {
        // fromObject would turn an array into an empty message; proto-loader rejects it too.
        if (Array.isArray(message)) throw new TypeError('expected an object, got an array');
        return type.encode(fromObject(message)).finish();
      } catch (error) {
        throw new ProtoCodecError('encode', typeName, error);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        if (objectDecoder !== undefined) return objectDecoder(bytes);
        return toObject(type.decode(strictReader(bytes)), conversion);
      } catch (error) {
        throw new ProtoCodecError('decode', typeName, error);
      }
    },
  };
  const direct = directEncoder(type);
  if (direct === undefined) return codec;
  // fromObject fused into the encoder: a plain object whose values need no conversion beyond what
  // it does itself (objectEncoder) is encoded without a message object in between; anything else
  // goes through fromObject (and its checks) into the direct encoder.
  const objects = objectEncoder(type);
  let lastObject: unknown;
  // The message encodedLength converted, for the encodeInto that follows it (the kernel calls the
  // two back to back): fromObject runs once per message.
  let lastInput: unknown;
  let lastConverted: protobuf.Message | undefined;
  const convert = (message: unknown): protobuf.Message => {
    if (Array.isArray(message)) throw new TypeError('expected an object, got an array');
    return fromObject(message);
  };
  codec.encodedLength = (message: unknown): number => {
    lastObject = lastInput = lastConverted = undefined;
    try {
      if (objects !== undefined && isPlainObject(message)) {
        const length = objects.length(message as object);
        if (length >= 0) {
          lastObject = message;
          return length;
        }
      }
      const converted = convert(message);
      const length = direct.length(converted);
      lastInput = message;
      lastConverted = converted;
      return length;
    } catch (error) {
      throw new ProtoCodecError('encode', typeName, error);
    }
  };
  codec.encodeInto = (message: unknown, target: Uint8Array, offset: number): number => {
    try {
      if (message === lastObject) {
        lastObject = undefined;
        return objects!.write(message as object, target, offset);
      }
      const converted = message === lastInput && lastConverted !== undefined ? lastConverted : convert(message);
      lastInput = lastConverted = undefined;
      return direct.write(converted, target, offset);
    } catch (error) {
      throw new ProtoCodecError('encode', typeName, error);
    }
  };
  return codec;
}
