/** One implementation under test: how to serve the echo, and how to call it. */
export interface BenchServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface BenchCaller {
  /** Resolves with nothing; rejects on any error (counted, never hidden). */
  call(id: number): Promise<unknown>;
  close(): Promise<void>;
}

export interface Kind {
  serve(options: { plugins: boolean }): Promise<BenchServer>;
  connect(options: { port: number; connections: number; plugins: boolean }): Promise<BenchCaller>;
}
