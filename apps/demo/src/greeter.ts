import { join } from 'node:path';
import type { CallOptions, ServerStreamingCall, ServiceDefinition } from '@trellis/core';
import type { VisitorEvent, VisitorsRequest } from './visitor-feed.js';
import { loadProto } from '@trellis/codec-protobuf';

export const GREETER_PROTO = join(__dirname, '..', 'protos', 'greeter.proto');

export function loadGreeter(): ServiceDefinition {
  return loadProto(GREETER_PROTO).service('demo.Greeter');
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
