import { Code, RpcError, type Metadata } from '@trellis/core';
import * as descriptor from 'protobufjs/ext/descriptor';
import { REFLECTION_V1_ROOT } from '../services/standard-protos.js';
import type { GrpcClient, GrpcClientStream, TargetLike } from './grpc-client.js';

// v1 and v1alpha messages are identical field for field: one codec serves both services.
const Request = REFLECTION_V1_ROOT.lookupType('grpc.reflection.v1.ServerReflectionRequest');
const Response = REFLECTION_V1_ROOT.lookupType('grpc.reflection.v1.ServerReflectionResponse');

export type ReflectionVersion = 'v1' | 'v1alpha';

const PATHS: Readonly<Record<ReflectionVersion, string>> = {
  v1: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  v1alpha: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
};

export interface ReflectionClientOptions {
  /** Metadata sent with the reflection stream (auth tokens…). */
  readonly metadata?: Metadata;
  /** Deadline of the whole reflection session (default 10 s). */
  readonly timeoutMs?: number;
}

/** One FileDescriptorProto as the server sent it, with the fields a client needs to link it. */
export interface ReflectedFile {
  readonly name: string;
  readonly dependencies: readonly string[];
  /** The serialized google.protobuf.FileDescriptorProto. */
  readonly bytes: Uint8Array;
}

interface ReflectionResponse {
  message_response?: string;
  file_descriptor_response?: { file_descriptor_proto?: Uint8Array[] };
  list_services_response?: { service?: { name?: string }[] };
  error_response?: { error_code?: number; error_message?: string };
}

/**
 * The client side of gRPC server reflection (what grpcurl does): one `ServerReflectionInfo` stream,
 * asked one question at a time — `grpc.reflection.v1` first, and `v1alpha` when the server answers
 * UNIMPLEMENTED (older grpc-go, grpc-java and C-core servers serve only v1alpha). Answers are
 * FileDescriptorProtos; `filesFor(symbols)` follows their dependency lists until every file needed
 * to link them is there, so a descriptor pool can be built from the result alone.
 *
 * An error response from the server (an unknown symbol) is an RpcError with its code (NOT_FOUND);
 * a server without reflection fails with UNIMPLEMENTED after both versions were tried.
 */
export class ReflectionClient {
  private stream: GrpcClientStream | undefined;
  private responses: AsyncIterator<Uint8Array> | undefined;
  private answered: ReflectionVersion | undefined;
  private readonly files = new Map<string, ReflectedFile>();

  constructor(private readonly client: GrpcClient, private readonly target: TargetLike, private readonly options: ReflectionClientOptions = {}) {}

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

  /** Ends the reflection stream (the GrpcClient stays open). */
  close(): void {
    this.stream?.end();
    this.stream?.cancel('reflection done');
    this.stream = undefined;
    this.responses = undefined;
  }

  private keep(response: ReflectionResponse, what: string): ReflectedFile[] {
    const protos = response.file_descriptor_response?.file_descriptor_proto;
    if (protos === undefined) throw new RpcError(Code.INTERNAL, `reflection answered no file for ${what}`);
    return protos.map((bytes) => {
      const file = readFile(bytes);
      if (!this.files.has(file.name)) this.files.set(file.name, file);
      return file;
    });
  }

  private async ask(request: Record<string, unknown>): Promise<ReflectionResponse> {
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

  private async askOn(version: ReflectionVersion, request: Record<string, unknown>): Promise<ReflectionResponse> {
    if (this.stream === undefined) {
      this.stream = this.client.stream(this.target, PATHS[version], { metadata: this.options.metadata, timeoutMs: this.options.timeoutMs ?? 10_000 });
      this.responses = this.stream[Symbol.asyncIterator]();
    }
    await this.stream.send(Request.encode(Request.fromObject(request)).finish());
    const next = await this.responses!.next();
    if (next.done) throw new RpcError(Code.INTERNAL, 'the server ended the reflection stream without answering');
    this.answered = version;
    const response = Response.toObject(Response.decode(next.value), { oneofs: true, defaults: false }) as ReflectionResponse;
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
