/**
 * Polls a condition for state that offers no event to await (a provider's view in another process, a
 * registry's contents); fails with the condition's text after the timeout.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<void> {
  // 30 s by default: only a guard against a condition that never comes true; on a loaded 2-core CI
  // machine, registry propagation and process start-up have taken more than 10 s.
  const timeoutMs = options.timeoutMs ?? 30_000;
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > until) throw new Error(`${options.what ?? condition.toString()} not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
