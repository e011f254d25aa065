import { join } from 'node:path';
import type { CallOptions, ServerStreamingCall, ServiceDefinition } from '@trellis/core';
import type { VisitorEvent, VisitorsRequest } from './visitor-feed.js';
import { loadProto, type ProtoPackage } from '@trellis/codec-protobuf';

export const PROTOS_DIR = join(__dirname, '..', 'protos');
export const GREETER_PROTO = join(PROTOS_DIR, 'greeter.proto');

/** The demo's .proto, loaded by its name under PROTOS_DIR: server reflection shows it as `greeter.proto`. */
export function loadGreeterPackage(): ProtoPackage {
  return loadProto('greeter.proto', { includeDirs: [PROTOS_DIR] });
}

export function loadGreeter(): ServiceDefinition {
  return loadGreeterPackage().service('demo.Greeter');
}

export interface HelloRequest { name: string }
export interface HelloReply { message: string; servedBy: string }
export interface CountRequest { text: string }
export interface CountReply { letters: number; words: number; servedBy: string }

/** The typed client of demo.Greeter (the shape trellis-proto-gen writes). */
export interface GreeterClient {
  sayHello(request: HelloRequest, options?: CallOptions): Promise<HelloReply>;
  count(request: CountRequest, options?: CallOptions): Promise<CountReply>;
  remember(request: HelloRequest, options?: CallOptions): Promise<HelloReply>;
  /** Server stream (issue #18): a live feed of visitor counts. */
  visitors: ServerStreamingCall<VisitorsRequest, VisitorEvent>;
}
