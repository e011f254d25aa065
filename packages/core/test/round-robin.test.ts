import t from 'tap';
import { ContextValues, RoundRobinBalancer, type Endpoint, type Invocation } from '../src/index.js';
import { EMPTY_SET } from '../src/spi.js';
import { ECHO } from './fixtures/json-service.js';

const endpoint = (id: string): Endpoint => ({ id, host: '127.0.0.1', port: Number(id.slice(1)), weight: 100, version: '1.0.0', tags: {}, protocol: 'trellis', startedAt: 0 }) as Endpoint;

function invocation(excluded: ReadonlySet<string>): Invocation {
  return {
    service: { group: 'default', name: ECHO.name, version: '*' },
    method: { ...ECHO.methods.Echo!, service: ECHO.name } as never,
    request: {},
    metadata: new Map(),
    deadline: Infinity,
    signal: undefined,
    attempt: excluded.size + 1,
    excluded,
    context: new ContextValues(),
  };
}

t.test('re-picks (retries) do not skew where first attempts go', async (t) => {
  // Issue #16: with two providers and one failing every call, each failed call's re-pick advanced
  // the shared cursor past the healthy provider, so 99 of 100 first attempts went to the failing one.
  const list = [endpoint('h1'), endpoint('s2')];
  const balancer = new RoundRobinBalancer();
  const firsts: Record<string, number> = { h1: 0, s2: 0 };
  const retries: Record<string, number> = { h1: 0, s2: 0 };
  for (let call = 0; call < 100; call++) {
    const first = balancer.pick(list, invocation(EMPTY_SET))!.endpoint.id;
    firsts[first]!++;
    if (first === 's2') retries[balancer.pick(list, invocation(new Set(['s2'])))!.endpoint.id]!++;
  }
  t.same(firsts, { h1: 50, s2: 50 }, 'first attempts alternate');
  t.same(retries, { h1: 50, s2: 0 }, 're-picks skip the excluded endpoint');
});

t.test('re-picks spread over the endpoints left, in turn', async (t) => {
  const list = [endpoint('a1'), endpoint('b2'), endpoint('c3')];
  const balancer = new RoundRobinBalancer();
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) seen.push(balancer.pick(list, invocation(new Set(['a1'])))!.endpoint.id);
  t.same(seen, ['b2', 'c3', 'b2', 'c3']);
  t.equal(balancer.pick(list, invocation(new Set(['a1', 'b2', 'c3']))), undefined, 'nothing left: undefined');
  t.same([0, 1, 2].map(() => balancer.pick(list, invocation(EMPTY_SET))!.endpoint.id), ['a1', 'b2', 'c3'], 'first attempts start where they were');
});
