import t from 'tap';
import { InvalidOptionError, Type, defineFormat, parseOptions, schemaIssues } from '@trellis/core/toolkit';

const Options = Type.Object({
  decayMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a number of ms > 0' })),
  mode: Type.Optional(Type.Union([Type.Literal('ring'), Type.Literal('maglev')])),
  backoff: Type.Optional(Type.Union([Type.Literal(false), Type.Object({
    jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  }, { additionalProperties: false })])),
  random: Type.Optional(Type.Function([], Type.Number())),
}, { additionalProperties: false });

t.test('a valid value comes back as it is, typed', async (t) => {
  const given = { decayMs: 5, mode: 'maglev' as const, backoff: false as const, random: Math.random };
  t.equal(parseOptions(Options, given, 'demo'), given);
  t.same(parseOptions(Options, {}, 'demo'), {});
});

t.test('bad input: ERR_INVALID_OPTION naming the path, the expectation and the value', async (t) => {
  const cases: [unknown, string, string, unknown][] = [
    [{ decayMs: -1 }, 'decayMs', 'a number of ms > 0', -1],
    [{ decayMs: Number.NaN }, 'decayMs', 'a number of ms > 0', Number.NaN],
    [{ mode: 'rnig' }, 'mode', 'one of ring, maglev', 'rnig'],
    [{ backoff: { jitter: 2 } }, 'backoff.jitter', 'a number ≥ 0 and ≤ 1', 2],
    [{ backoff: { jiter: 0.5 } }, 'backoff.jiter', 'one of the known keys (did you mean "jitter"?): jitter', 0.5],
    [{ random: 0.5 }, 'random', 'a function', 0.5],
    [{ decayMz: 5 }, 'decayMz', 'one of the known keys (did you mean "decayMs"?): decayMs, mode, backoff, random', 5],
    ['fast', 'options', 'an object', 'fast'],
  ];
  for (const [input, path, expected, received] of cases) {
    const error = t.throws(() => parseOptions(Options, input, 'demo'), { name: 'TrellisError', code: 'ERR_INVALID_OPTION' }) as InvalidOptionError;
    t.ok(error instanceof InvalidOptionError, JSON.stringify(input));
    t.equal(error.path, path);
    t.equal(error.expected, expected);
    t.same(error.received, received);
    t.match(error.message, `demo option "${path}" is `);
  }
});

t.test('schemaIssues collects every problem with its own message', async (t) => {
  const issues = schemaIssues(Options, { decayMs: 0, mode: 'x', extra: 1 });
  t.same(issues.map((i) => i.path), ['decayMs', 'mode', 'extra']);
  t.same(issues.map((i) => i.message), [
    'must be > 0, got 0',
    'expected one of ring, maglev, got "x"',
    'unknown field; known fields: decayMs, mode, backoff, random',
  ]);
  t.same(schemaIssues(Options, { decayMs: 1 }), []);
});

t.test('discriminated unions: the variant named by the literal explains the problem', async (t) => {
  const Condition = Type.Union([
    Type.Object({ op: Type.Literal('equals'), value: Type.String() }, { additionalProperties: false }),
    Type.Object({ op: Type.Literal('in'), values: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: false }),
  ]);
  t.same(schemaIssues(Condition, { op: 'in', values: [] }).map((i) => [i.path, i.message]), [['values', 'must not be empty']]);
  t.same(schemaIssues(Condition, { op: 'in' }).map((i) => [i.path, i.message]), [['values', 'required when op is "in"']]);
  t.same(schemaIssues(Condition, { op: 'eq', value: 'x' }).map((i) => [i.path, i.message]), [['op', 'expected one of equals, in, got "eq"']]);
});

t.test('formats say what is wrong with a string', async (t) => {
  defineFormat('test-even-length', (text) => (text.length % 2 === 0 ? undefined : `has ${text.length} characters, an odd number`));
  const Even = Type.Object({ code: Type.String({ format: 'test-even-length' }) });
  t.same(schemaIssues(Even, { code: 'abc' }).map((i) => [i.path, i.message]), [['code', 'has 3 characters, an odd number']]);
  t.same(schemaIssues(Even, { code: 'ab' }), []);
});

t.test('a nullable value (null removes a setting) is judged by its non-null kind', async (t) => {
  const Overlay = Type.Object({ qps: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])) });
  t.same(schemaIssues(Overlay, { qps: -5 }).map((i) => [i.path, i.message]), [['qps', 'must be > 0, got -5']]);
  t.same(schemaIssues(Overlay, { qps: 'x' }).map((i) => [i.path, i.expected]), [['qps', 'a number > 0 or null']]);
  t.same(schemaIssues(Overlay, { qps: null }), []);
});
