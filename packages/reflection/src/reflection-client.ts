import { Code, RpcError } from '@trellis/core';
import * as descriptor from 'protobufjs/ext/descriptor';
import { REFLECTION_SERVICES, ReflectionRequest, ReflectionResponse, type ReflectionVersion } from './reflection-protos.js';

/**
 * One `ServerReflectionInfo` stream at the bytes level, as a transport opens it (gRPC over HTTP/2,
 * the native protocol: native-client.ts). `responses` rejects with the stream's RpcError; a server
 * without the service fails it with UNIMPLEMENTED.
 */
export interface ReflectionStream {
  send(request: Uint8Array): Promise<void> | void;
  readonly responses: AsyncIterator<Uint8Array>;
  /** Ends the stream (half-close, then cancel what is left). */
  close(): void;
}

/** Opens the reflection stream of a service (`grpc.reflection.v1.ServerReflection` or its v1alpha twin). */
export type OpenReflectionStream = (service: string) => ReflectionStream;

/** One FileDescriptorProto as the server sent it, with the fields a client needs to link it. */
export interface ReflectedFile {
  readonly name: string;
  readonly dependencies: readonly string[];
  /** The serialized google.protobuf.FileDescriptorProto. */
  readonly bytes: Uint8Array;
}

interface ReflectionResponseObject {
  message_response?: string;
  file_descriptor_response?: { file_descriptor_proto?: Uint8Array[] };
  list_services_response?: { service?: { name?: string }[] };
  error_response?: { error_code?: number; error_message?: string };
}

/**
 * The client side of server reflection (what grpcurl does), over any transport: one
 * `ServerReflectionInfo` stream, asked one question at a time — `grpc.reflection.v1` first, and
 * `v1alpha` when the server answers UNIMPLEMENTED (older grpc-go, grpc-java and C-core servers
 * serve only v1alpha). `filesFor(symbols)` follows the dependency lists until every file needed
 * to link them is there, so a descriptor pool can be built from the result alone.
 *
 * An error response (an unknown symbol) is an RpcError with its code (NOT_FOUND); a server without
 * reflection fails with UNIMPLEMENTED after both versions were tried.
 */
export class ReflectionClient {
  private stream: ReflectionStream | undefined;
  private answered: ReflectionVersion | undefined;
  private readonly files = new Map<string, ReflectedFile>();

  constructor(private readonly open: OpenReflectionStream) {}

  /** The reflection version the server answered with (after the first question). */
  get version(): ReflectionVersion | undefined {
    return this.answered;
  }

  /** The fully qualified names of the services the server lists (reflection itself included). */
  async listServices(): Promise<string[]> {
    const response = await this.ask({ list_services: '' });
    return (response.list_services_response?.service ?? []).map((s) => s.name ?? '').filter((name) => name !== '');
  }

  /** The file that defines a symbol (`pkg.Service`, `pkg.Message`, `pkg.Service.Method`) and the files the server sent with it. */
  async fileContainingSymbol(symbol: string): Promise<ReflectedFile[]> {
    return this.keep(await this.ask({ file_containing_symbol: symbol }), `symbol "${symbol}"`);
  }

  async fileByFilename(name: string): Promise<ReflectedFile[]> {
    return this.keep(await this.ask({ file_by_filename: name }), `file "${name}"`);
  }

  /**
   * Every file needed to describe `symbols`: the files defining them and, transitively, every file
   * they import (asked for by name when the server did not send it along), dependencies first.
   */
  async filesFor(symbols: readonly string[]): Promise<ReflectedFile[]> {
    for (const symbol of symbols) await this.fileContainingSymbol(symbol);
    const missing = (): string[] => [...this.files.values()].flatMap((f) => f.dependencies).filter((d) => !this.files.has(d));
    for (let wanted = missing(); wanted.length > 0; wanted = missing()) {
      for (const name of new Set(wanted)) await this.fileByFilename(name);
    }
    return ordered(this.files);
  }

  /** Ends the reflection stream. */
  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }

  private keep(response: ReflectionResponseObject, what: string): ReflectedFile[] {
    const protos = response.file_descriptor_response?.file_descriptor_proto;
    if (protos === undefined) throw new RpcError(Code.INTERNAL, `reflection answered no file for ${what}`);
    return protos.map((bytes) => {
      const file = readFile(bytes);
      if (!this.files.has(file.name)) this.files.set(file.name, file);
      return file;
    });
  }

  private async ask(request: Record<string, unknown>): Promise<ReflectionResponseObject> {
    if (this.answered === undefined) {
      try {
        return await this.askOn('v1', request);
      } catch (error) {
        if (!(error instanceof RpcError) || error.code !== Code.UNIMPLEMENTED) throw error;
        this.close();
        return await this.askOn('v1alpha', request);
      }
    }
    return this.askOn(this.answered, request);
  }

  private async askOn(version: ReflectionVersion, request: Record<string, unknown>): Promise<ReflectionResponseObject> {
    this.stream ??= this.open(REFLECTION_SERVICES[version]);
    await this.stream.send(ReflectionRequest.encode(ReflectionRequest.fromObject(request)).finish());
    const next = await this.stream.responses.next();
    if (next.done) throw new RpcError(Code.INTERNAL, 'the server ended the reflection stream without answering');
    this.answered = version;
    const response = ReflectionResponse.toObject(ReflectionResponse.decode(next.value), { oneofs: true, defaults: false }) as ReflectionResponseObject;
    if (response.error_response !== undefined) {
      const { error_code: code = Code.UNKNOWN, error_message: message = '' } = response.error_response;
      throw new RpcError(code as Code, `reflection: ${message || 'error'}`, { mayHaveRun: false });
    }
    return response;
  }
}

function readFile(bytes: Uint8Array): ReflectedFile {
  const decoded = descriptor.FileDescriptorProto.decode(bytes) as unknown as { name?: string; dependency?: string[] };
  return { name: decoded.name ?? '', dependencies: decoded.dependency ?? [], bytes };
}

/** Files with their dependencies before them (a descriptor pool links them in that order). */
function ordered(files: ReadonlyMap<string, ReflectedFile>): ReflectedFile[] {
  const out: ReflectedFile[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    const file = files.get(name);
    if (file === undefined || seen.has(name)) return;
    seen.add(name);
    file.dependencies.forEach(visit);
    out.push(file);
  };
  [...files.keys()].forEach(visit);
  return out;
}
