import t from 'tap';
import { Code, DEFAULT_FAILURE_CODES, RpcClient, TrellisError } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import { health, resolveHealthOptions, type HealthOptions } from '../src/index.js';

const bad: [string, HealthOptions | unknown, RegExp][] = [
  ['intervalMs', { intervalMs: 0 }, /health option "intervalMs" is 0; expected a positive number of ms/],
  ['timeoutMs', { timeoutMs: -5 }, /"timeoutMs" is -5/],
  ['failureThreshold', { failureThreshold: 1.5 }, /"failureThreshold" is 1.5; expected an integer ≥ 1/],
  ['availability', { availability: true }, /"availability" is true; expected an object/],
  ['availability.threshold', { availability: { threshold: 80 } }, /"availability.threshold" is 80; expected a ratio in \(0, 1\]/],
  ['availability.minCalls', { availability: { minCalls: 0 } }, /"availability.minCalls" is 0/],
  ['availability.buckets', { availability: { buckets: 5000 } }, /"availability.buckets" is 5000/],
  ['availability.codes', { availability: { codes: [Code.OK] } }, /"availability.codes" is \[0\]; expected an array of error Codes/],
  ['redial', { redial: { initialMs: 500, maxMs: 100 } }, /"redial" is .*maxMs/],
  ['loopStall.thresholdMs', { loopStall: { thresholdMs: 0 } }, /"loopStall.thresholdMs" is 0/],
  ['warmupMs', { warmupMs: -1 }, /"warmupMs" is -1; expected a number of ms ≥ 0/],
  ['rampOnRecovery', { rampOnRecovery: 'yes' }, /"rampOnRecovery" is "yes"; expected true or false/],
  ['http.port', { http: { port: 70000 } }, /"http.port" is 70000; expected an integer in 0..65535/],
  ['http.path', { http: { port: 0, path: 'health' } }, /"http.path" is "health"; expected a path starting with "\/"/],
  ['readiness', { readiness: ['db'] }, /"readiness" is \["db"\]; expected an array of functions/],
  ['startDelayMs', { startDelayMs: Number.NaN }, /"startDelayMs"/],
  // Typos are refused, not ignored in silence (the option would keep its default unnoticed).
  ['an unknown key', { intervalMS: 500 }, /"intervalMS" is 500; expected one of the known keys \(did you mean "intervalMs"\?\)/],
  ['an unknown availability key', { availability: { treshold: 0.5 } }, /"availability.treshold" is 0.5; expected one of the known keys/],
  ['an unknown loopStall key', { loopStall: { thresholdMS: 10 } }, /"loopStall.thresholdMS" is 10; expected one of the known keys/],
  ['an unknown http key', { http: { port: 0, pth: '/h' } }, /"http.pth" is "\/h"; expected one of the known keys/],
  ['an unknown redial key', { redial: { maxMS: 100 } }, /"redial.maxMS" is 100; expected one of the known keys \(did you mean "maxMs"\?\)/],
];

for (const [name, options, message] of bad) {
  t.test(`a bad ${name} throws ERR_INVALID_OPTION when health() is called`, async (t) => {
    const error = (() => {
      try {
        health(options as HealthOptions);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.type(error, TrellisError);
    t.equal((error as TrellisError).code, 'ERR_INVALID_OPTION');
    t.match((error as Error).message, message);
  });
}

t.test('the plugin declares itself and supports both sides', async (t) => {
  const plugin = health();
  t.same(plugin.meta, { name: '@trellis/health', kernel: '^0.1.0' });
  t.type(plugin.setupClient, 'function');
  t.type(plugin.setupServer, 'function');
  t.same(plugin.states(), []);
  t.equal(plugin.serving, false, 'no server set up yet');
  t.equal(plugin.httpAddress(), undefined);
});

t.test('the client filters on the plugin\'s view once started, and releases everything on close', async (t) => {
  const plugin = health();
  const client = new RpcClient({ service: loadEchoService(), addresses: ['127.0.0.1:1'], plugins: [plugin] });
  await client.start();
  t.equal(client.healthView.constructor.name, 'HealthMonitor');
  await client.close();
  t.same(plugin.states(), [], 'a closed client leaves no state behind');
});

t.test('availability counts the kernel\'s one definition of failure by default', async (t) => {
  t.same([...resolveHealthOptions().availability!.codes].sort(), [...DEFAULT_FAILURE_CODES].sort());
  t.notOk(resolveHealthOptions().availability!.codes.has(Code.RESOURCE_EXHAUSTED), 'a rate limit\'s answer is not trouble');
  t.same([...resolveHealthOptions({ availability: { codes: [Code.INTERNAL] } }).availability!.codes], [Code.INTERNAL], 'and an option replaces it');
});
