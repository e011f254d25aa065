import t from 'tap';
import { Type, defineFormat } from '@trellis/core/toolkit';
import { expected, joinPath, validate, type Schema } from '../src/index.js';

defineFormat('test-even-digits', (text) => (text.length % 2 === 0 ? undefined : `must have an even number of digits, got ${text.length}`));

const common = { field: Type.Optional(Type.String({ minLength: 1 })), header: Type.Optional(Type.String()) };
const CONDITION = Type.Union([
  Type.Object({ ...common, op: Type.Literal('equals'), value: Type.Union([Type.String(), Type.Number()]) }, { additionalProperties: false }),
  Type.Object({ ...common, op: Type.Literal('in'), values: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: false }),
]);

const RULE = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 8 }),
  weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  enabled: Type.Optional(Type.Boolean()),
  match: Type.Optional(Type.Array(CONDITION, { maxItems: 2 })),
  tags: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), { maxProperties: 2 })),
  even: Type.Optional(Type.String({ format: 'test-even-digits' })),
}, { additionalProperties: false });

t.test('a valid value has no issues', (t) => {
  t.same(validate(RULE, { name: 'a', weight: 3, enabled: true, match: [{ field: 'user.id', op: 'in', values: ['1'] }], tags: { v: ['x'] }, even: '42' }), []);
  t.end();
});

t.test('each issue names its path and says what was expected and what came', (t) => {
  const issues = validate(RULE, {
    weight: 2.5,
    enabled: 'yes',
    match: [{ field: 'user.id', op: 'eq', value: 1 }, { header: 'x', op: 'in' }, {}],
    tags: { a: 1, b: 'x', c: 'y' },
    even: '123',
    nmae: 'typo',
  });
  t.same(issues.map((i) => `${i.path}: ${i.message}`).sort(), [
    'enabled: expected true or false, got "yes"',
    'even: must have an even number of digits, got 3',
    'match: may have at most 2 entries, got 3',
    'name: required',
    'nmae: unknown field (did you mean "name"?); known fields: name, weight, enabled, match, tags, even',
    'tags: may have at most 2 entries, got 3',
    'weight: expected an integer, got 2.5',
  ].sort());
  t.end();
});

t.test('variants: the tag picks the fields that are allowed and required', (t) => {
  const at = (value: unknown) => validate(CONDITION, value, 'match[0]').map((i) => `${i.path}: ${i.message}`);
  t.same(at({ field: 'a', op: 'eq' }), ['match[0].op: expected one of equals, in, got "eq"']);
  t.same(at({ field: 'a' }), ['match[0].op: required']);
  t.same(at({ field: 'a', op: 'in' }), ['match[0].values: required when op is "in"']);
  t.same(at({ field: 'a', op: 'in', values: [] }), ['match[0].values: must not be empty']);
  t.same(at({ field: 'a', op: 'equals', value: 1, values: ['x'] }), ['match[0].values: unknown field (did you mean "value"?); known fields: field, header, op, value']);
  t.same(at({ field: 'a', op: 'equals', value: true }), ['match[0].value: expected a string or a number, got true']);
  t.same(at([]), ['match[0]: expected an object, got an array']);
  t.end();
});

t.test('anyOf explains with the alternative of the same kind', (t) => {
  const tags = RULE.properties.tags;
  t.same(validate(tags, { a: ['x', 2] }, 'tags').map((i) => `${i.path}: ${i.message}`), ['tags.a[1]: expected a string, got 2']);
  t.same(validate(tags, { a: null }, 'tags').map((i) => i.message), ['expected a string or an array of strings, got null']);
  t.end();
});

t.test('numbers, strings and arrays check their bounds', (t) => {
  const messages = (schema: Schema, value: unknown) => validate(schema, value).map((i) => i.message);
  t.same(messages(Type.Number({ minimum: 0 }), -1), ['must be ≥ 0, got -1']);
  t.same(messages(Type.Number({ maximum: 10 }), 11), ['must be ≤ 10, got 11']);
  t.same(messages(Type.Number(), Number.NaN), ['expected a number, got NaN']);
  t.same(messages(Type.Number(), '1'), ['expected a number, got "1"']);
  t.same(messages(Type.String({ minLength: 1 }), ''), ['must not be empty']);
  t.same(messages(Type.String({ minLength: 3 }), 'ab'), ['must be at least 3 characters long']);
  t.same(messages(Type.String({ maxLength: 2 }), 'abc'), ['must be at most 2 characters long, got 3']);
  t.same(messages(Type.Array(Type.String(), { minItems: 2 }), ['a']), ['needs at least 2 entries, got 1']);
  t.same(messages(Type.Array(Type.String()), 'a'), ['expected an array of strings, got "a"']);
  t.same(messages(Type.String(), 'x'.repeat(100)), []);
  t.match(messages(Type.Number(), 'x'.repeat(100))[0], /got "x{50,}…$/, 'long values are shortened');
  t.end();
});

t.test('paths and descriptions', (t) => {
  t.equal(joinPath('', 'a'), 'a');
  t.equal(joinPath('a', 0), 'a[0]');
  t.equal(joinPath('tags', 'app.kubernetes.io/name'), 'tags["app.kubernetes.io/name"]');
  t.equal(expected(Type.Array(Type.Union([Type.Literal('x'), Type.Literal('y')]))), 'an array of values from x, y');
  t.equal(expected(Type.Boolean()), 'true or false');
  t.end();
});
