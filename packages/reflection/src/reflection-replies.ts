import type { DescriptorPool } from './descriptor-pool.js';
import { checkReflectionOptions } from './options.js';
import { ReflectionRequest, ReflectionResponse } from './reflection-protos.js';

interface ReflectionRequestObject {
  host?: string;
  message_request?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

// gRPC status numbers as the reflection protocol's ErrorResponse carries them.
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

export interface ReflectionOptions {
  /** The services `list_services` names (default: every service in the pool). */
  readonly services?: () => readonly string[];
}

/**
 * The server side of `ServerReflectionInfo` at the bytes level, whatever carries the stream (gRPC
 * over HTTP/2 in @trellis/transport-grpc, the native protocol in native-server.ts): one encoded
 * ServerReflectionRequest in, one encoded ServerReflectionResponse out — a file and its
 * dependencies by name, by symbol or by extension, extension numbers, the list of services; an
 * error response (NOT_FOUND, INVALID_ARGUMENT) when there is no answer. Never throws.
 */
export function reflectionReplies(pool: DescriptorPool, options: ReflectionOptions = {}): (request: Uint8Array) => Uint8Array {
  checkReflectionOptions(options);
  const listed = options.services ?? (() => pool.services);
  const answer = (request: ReflectionRequestObject): Record<string, unknown> => {
    const files = (name: string | undefined, what: string) => {
      const found = name === undefined ? undefined : pool.fileWithDependencies(name);
      return found === undefined
        ? { error_response: { error_code: NOT_FOUND, error_message: `${what} not found` } }
        : { file_descriptor_response: { file_descriptor_proto: found } };
    };
    switch (request.message_request) {
      case 'file_by_filename':
        return files(request.file_by_filename, `file "${request.file_by_filename}"`);
      case 'file_containing_symbol':
        return files(pool.fileContainingSymbol(request.file_containing_symbol ?? ''), `symbol "${request.file_containing_symbol}"`);
      case 'file_containing_extension': {
        const ext = request.file_containing_extension ?? {};
        return files(pool.fileContainingExtension(ext.containing_type ?? '', ext.extension_number ?? 0), `extension ${ext.extension_number} of "${ext.containing_type}"`);
      }
      case 'all_extension_numbers_of_type': {
        const type = request.all_extension_numbers_of_type ?? '';
        const numbers = pool.extensionNumbers(type);
        return numbers === undefined
          ? { error_response: { error_code: NOT_FOUND, error_message: `type "${type}" not found` } }
          : { all_extension_numbers_response: { base_type_name: type, extension_number: numbers } };
      }
      case 'list_services':
        return { list_services_response: { service: listed().map((name) => ({ name })) } };
      default:
        return { error_response: { error_code: INVALID_ARGUMENT, error_message: 'the request names no known message_request' } };
    }
  };
  return (bytes) => {
    let request: ReflectionRequestObject;
    try {
      request = ReflectionRequest.toObject(ReflectionRequest.decode(bytes), { oneofs: true, defaults: false }) as ReflectionRequestObject;
    } catch (error) {
      return ReflectionResponse.encode({ error_response: { error_code: INVALID_ARGUMENT, error_message: `request could not be decoded: ${(error as Error).message}` } }).finish();
    }
    const response = { valid_host: request.host ?? '', original_request: ReflectionRequest.fromObject(request), ...answer(request) };
    return ReflectionResponse.encode(ReflectionResponse.fromObject(response)).finish();
  };
}
