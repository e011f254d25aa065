/** The first line of an error's message: library errors (grpc-js, ZooKeeper) can run to many lines. */
export function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // grpc-js appends an empty "Resolution note:" to connection errors.
  return (message.split('\n')[0] ?? message).replace(/\.?\s*Resolution note:\s*$/, '');
}
