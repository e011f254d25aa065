import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import {
  Code, RpcClient, RpcError, RpcServer, createContextKey, definePlugin, InterceptorOrder, type Result,
} from '@trellis/core';
import { withInvocation } from '@trellis/core/spi';
import { FakeClock, createEchoHandlers, loadEchoService, startProvider, type ProviderProcess } from '@trellis/testkit';
import { limiter } from '../src/index.js';

// Providers run in child processes and load the limiter by name: build dist first (npm test does).
const ECHO = loadEchoService();
const SERVICE = 'trellis.test.EchoService';
const limited = (name: string, qps: number, burst?: number) =>
  startProvider({ name, plugins: [{ module: '@trellis/breaker', export: 'limiter', options: { services: { [SERVICE]: { qps, burst } } }, from: path.join(__dirname, '..') }] });

/**
 * Offers `qps` calls per second for `durationMs`, open loop (a slow answer does not slow the
 * offer): every tick sends what the schedule says is due. Bounded: at most qps × duration calls.
 * Resolves with each call's reply or error (kept as it comes: no rejection is left unhandled).
 */
async function offer(call: () => Promise<unknown>, qps: number, durationMs: number): Promise<unknown[]> {
  const total = Math.round((qps * durationMs) / 1000);
  const calls: Promise<unknown>[] = [];
  const start = performance.now();
  while (calls.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * qps) / 1000) + 1);
    while (calls.length < due) calls.push(call().then((value) => value, (error: unknown) => error));
    if (calls.length < total) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return Promise.all(calls);
}

/**
 * The limiter's rate on a clock the test moves: the provider's own (RpcServer's `clock`), which the
 * limiter counts by default through the kernel's reading of each call's start. Frozen between steps,
 * every call of a step is read at the same instant however long the machine takes to carry it, so
 * the counts are exact. (How precisely the rate holds on the wall clock is a measurement, not a
 * test: `node bench/rate-limit-precision.js`.)
 */
t.test('a 1,000 QPS limit (burst 300) under 3× the load: the burst, then exactly 1,000 calls per second', async (t) => {
  const [QPS, BURST] = [1000, 300];
  const clock = new FakeClock(0);
  let ran = 0;
  const server = new RpcServer({ host: '127.0.0.1', clock, plugins: [limiter({ services: { [SERVICE]: { qps: QPS, burst: BURST } } })] })
    .addService(ECHO, createEchoHandlers({ servedBy: 'limited', onCall: () => void ran++ }));
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(async () => {
    await client.close();
    await server.close({ graceMs: 100 });
  });
  const rejected: unknown[] = [];
  let accepted = 0;
  /** `n` calls at once at the clock's present reading: how many were accepted. */
  const atOnce = async (n: number) => {
    const outcomes = await Promise.all(Array.from({ length: n }, () => client.invoke('Echo', { message: 'x' }).then(() => 'ok', (e: unknown) => e)));
    const ok = outcomes.filter((o) => o === 'ok').length;
    accepted += ok;
    rejected.push(...outcomes.filter((o) => o !== 'ok'));
    return ok;
  };

  t.equal(await atOnce(3 * BURST), BURST, 'a full bucket: the burst, of 3× as many calls');
  // One second in 50 ms steps, each offering 3× what it refills (3,000 calls/s).
  const steps: number[] = [];
  for (let i = 0; i < 20; i++) {
    clock.advance(50);
    steps.push(await atOnce(150));
  }
  t.same(steps, Array.from({ length: 20 }, () => 50), '50 of 150 in every 50 ms: 1,000 of 3,000 in the second');
  clock.advance(20.5);
  const partial = await atOnce(60);
  clock.advance(0.5);
  t.same([partial, await atOnce(60)], [20, 1], 'the refill is continuous: half a token waits for the other half');
  clock.advance(10_000);
  t.equal(await atOnce(3 * BURST), BURST, 'an idle bucket fills up to the burst, no further');

  t.equal(accepted + rejected.length, 3 * BURST + 20 * 150 + 2 * 60 + 3 * BURST, 'every call ended');
  t.ok(rejected.every((e) => e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED && !e.mayHaveRun), 'rejections are RESOURCE_EXHAUSTED, did not run');
  t.match((rejected[0] as RpcError).message, /^rate limit of 1000 calls\/s \(burst 300\) reached for trellis\.test\.EchoService; the call did not run$/);
  t.equal(ran, accepted, 'the provider ran exactly the accepted calls');
});

t.test('rejected calls are sent to another provider and succeed', async (t) => {
  // Shown with the kernel's behaviour (the retry plugin is developed in parallel): the rejection
  // carries mayHaveRun = false, so this minimal client-side interceptor may re-send the call to a
  // provider it has not tried, the way the retry plugin does.
  const providers: ProviderProcess[] = [await limited('limited', 100, 10), await startProvider({ name: 'free' })];
  const tried = createContextKey<string[]>([], { description: 'endpoints tried' });
  let resent = 0;
  const resend = definePlugin({
    meta: { name: 'test-resend', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addEndpointInterceptor((next) => (inv, endpoint) => {
        inv.context.set(tried, [...inv.context.get(tried), endpoint.id]);
        return next(inv, endpoint);
      }, 0);
      ctx.addInterceptor((next) => async (inv): Promise<Result> => {
        try {
          return await next(inv);
        } catch (error) {
          if (!(error instanceof RpcError && error.code === Code.RESOURCE_EXHAUSTED && !error.mayHaveRun)) throw error;
          resent++;
          return next(withInvocation(inv, { attempt: inv.attempt + 1, excluded: new Set(inv.context.get(tried)) }));
        }
      }, InterceptorOrder.RETRY);
    },
  });
  const client = new RpcClient({ service: ECHO, addresses: providers.map((p) => p.address), plugins: [resend] });
  t.teardown(async () => {
    await client.close();
    for (const p of providers) await p.stop();
  });
  const outcomes = await offer(() => client.invokeWithResult('Echo', { message: 'x' }), 600, 1000);
  const failures = outcomes.filter((v) => v instanceof Error);
  t.same(failures, [], 'every call succeeded');
  const replies = outcomes as Result[];
  const served = (name: string) => replies.filter((r) => (r.response as { servedBy: string }).servedBy === name).length;
  const [limitedStats, freeStats] = await Promise.all(providers.map((p) => p.stats()));
  t.ok(resent > 50, `${resent} calls were refused by the limited provider`);
  t.equal(served('limited'), limitedStats!.calls, 'the limited provider ran only what it answered');
  t.equal(served('free'), freeStats!.calls);
  t.equal(served('limited') + served('free'), 600);
  t.equal(freeStats!.attempts['2'], resent, 'each refused call ran once, as a second attempt, on the other provider');
});
