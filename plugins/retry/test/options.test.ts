import t from 'tap';
import { Code, RpcClient, RpcServer } from '@trellis/core';
import { checkPlugin } from '@trellis/core/spi';
import { loadEchoService } from '@trellis/testkit';
import { retry } from '../src/index.js';

t.test('meta passes the kernel’s plugin check; client side only', (t) => {
  const plugin = retry();
  t.equal(plugin.meta.name, '@trellis/retry');
  t.equal(plugin.meta.kernel, '^0.1.0');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.throws(() => new RpcServer({ plugins: [plugin] }), { code: 'ERR_PLUGIN_INVALID' });
  t.end();
});

t.test('bad options fail at retry() with ERR_INVALID_OPTION naming the option and what to pass', (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ maxAttempts: 0 }, /"maxAttempts" is 0; expected an integer from 1 to 10/],
    [{ maxAttempts: 2.5 }, /"maxAttempts"/],
    [{ maxAttempts: 11 }, /"maxAttempts"/],
    [{ retryOn: ['UNAVAILABLE'] }, /"retryOn" .*Code values/],
    [{ retryOn: [Code.OK] }, /"retryOn"/],
    [{ retryIf: true }, /"retryIf" is true; expected a function/],
    [{ attemptTimeoutMs: -1 }, /"attemptTimeoutMs" is -1; expected a positive number of ms/],
    [{ backoff: { initialMs: 0 } }, /"backoff.initialMs"/],
    [{ backoff: { initialMs: 50, maxMs: 10 } }, /"backoff.maxMs" is 10; expected a number ≥ initialMs \(50\)/],
    [{ backoff: { jitter: 2 } }, /"backoff.jitter"/],
    [{ backoff: { initalMs: 5 } }, /"backoff.initalMs" .*known keys \(did you mean "initialMs"\?\): initialMs/],
    [{ budget: { ratio: -0.1 } }, /"budget.ratio"/],
    [{ budget: { minPerSecond: -1 } }, /"budget.minPerSecond"/],
    [{ budget: { windowMs: 10 } }, /"budget.windowMs" is 10; expected a number of ms ≥ 100/],
    [{ budget: 0.1 }, /"budget" is 0.1; expected `false` or an object/],
    [{ hedge: {} }, /"hedge" .*delayMs .* or percentile/],
    [{ hedge: { delayMs: -5 } }, /"hedge.delayMs"/],
    [{ hedge: { percentile: 100 } }, /"hedge.percentile" is 100/],
    [{ hedge: { delayMs: 5, maxRatio: -1 } }, /"hedge.maxRatio" is -1/],
    [{ hedge: { delayMs: 5, minSamples: 0 } }, /"hedge.minSamples"/],
    [{ fallbackToFailed: 'yes' }, /"fallbackToFailed"/],
    [{ onAttempt: 1 }, /"onAttempt"/],
    [{ methods: { Echo: { maxAttempts: 99 } } }, /"methods.Echo.maxAttempts" is 99/],
    [{ methods: { Echo: { idempotent: 'yes' } } }, /"methods.Echo.idempotent"/],
    [{ methods: { Echo: { retries: 2 } } }, /"methods.Echo.retries" .*known keys/],
    [{ maxAttemps: 3 }, /"maxAttemps" .*known keys \(did you mean "maxAttempts"\?\): maxAttempts/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => retry(options as never), { name: 'TrellisError', code: 'ERR_INVALID_OPTION', message }, JSON.stringify(options));
  }
  t.end();
});

t.test('a per-method option for a method the service lacks fails when the client starts', async (t) => {
  const client = new RpcClient({ service: loadEchoService(), addresses: ['127.0.0.1:1'], plugins: [retry({ methods: { Nope: { maxAttempts: 2 } } })] });
  t.teardown(() => client.close());
  await t.rejects(client.start(), { code: 'ERR_INVALID_OPTION', message: /"methods.Nope" .*a method of trellis.test.EchoService \(Echo, Mutate\)/ });
});

t.test('methods may be named by .proto or local name', async (t) => {
  const client = new RpcClient({ service: loadEchoService(), addresses: ['127.0.0.1:1'], plugins: [retry({ methods: { mutate: { idempotent: true }, Echo: { maxAttempts: 1 } } })] });
  t.teardown(() => client.close());
  await t.resolves(client.start());
});
