import type { Socket } from 'node:net';

/**
 * The small interface between the gRPC semantics layer (GrpcServer, ServerCall) and the HTTP/2
 * engine under it: the part of node:http2's server, session and stream a gRPC call uses. The
 * engine's own implementation (src/h2) and node:http2 both have it.
 */
export type EngineHeaders = Record<string, string | string[] | undefined>;
export type EngineOutgoingHeaders = Readonly<Record<string, string | readonly string[]>>;

export interface EngineStream {
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly readableEnded: boolean;
  readonly session: unknown;
  respond(headers: EngineOutgoingHeaders, options?: { endStream?: boolean; waitForTrailers?: boolean; sendDate?: boolean }): void;
  sendTrailers(headers: EngineOutgoingHeaders): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): void;
  pause(): unknown;
  resume(): unknown;
  close(code?: number): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

export interface EngineSession {
  readonly closed: boolean;
  readonly destroyed: boolean;
  readonly socket: Socket;
  close(): void;
  /**
   * Ends the session. With a `code` (node:http2's signature), a final GOAWAY carries it and the socket
   * is destroyed at once, dropping what the peer has not taken yet.
   */
  destroy(error?: Error, code?: number): void;
  goaway(code?: number, lastStreamId?: number, data?: Buffer): void;
  ping(callback: (error: Error | null, durationMs: number) => void): boolean;
  setTimeout(ms: number, callback: () => void): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
}
