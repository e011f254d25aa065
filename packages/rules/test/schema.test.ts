import t from 'tap';
import { expected, joinPath, validate, type ObjectSchema, type Schema } from '../src/index.js';

const CONDITION: ObjectSchema = {
  type: 'object',
  properties: { field: { type: 'string', minLength: 1 }, header: { type: 'string' }, op: { type: 'string', enum: ['equals', 'in'] } },
  required: ['op'],
  oneOf: ['field', 'header'],
  tag: {
    field: 'op',
    variants: {
      equals: { properties: { value: { anyOf: [{ type: 'string' }, { type: 'number' }] } }, required: ['value'] },
      in: { properties: { values: { type: 'array', items: { type: 'string' }, minItems: 1 } }, required: ['values'] },
    },
  },
};

const RULE: ObjectSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 8 },
    weight: { type: 'number', integer: true, minimum: 0, maximum: 100 },
    enabled: { type: 'boolean' },
    match: { type: 'array', items: CONDITION, maxItems: 2 },
    tags: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, maxProperties: 2 },
    even: { type: 'number', check: (n: number) => (n % 2 === 0 ? undefined : `must be even, got ${n}`) },
  },
  required: ['name'],
};

t.test('a valid value has no issues', (t) => {
  t.same(validate(RULE, { name: 'a', weight: 3, enabled: true, match: [{ field: 'user.id', op: 'in', values: ['1'] }], tags: { v: ['x'] }, even: 4 }), []);
  t.end();
});

t.test('each issue names its path and says what was expected and what came', (t) => {
  const issues = validate(RULE, {
    weight: 2.5,
    enabled: 'yes',
    match: [{ field: 'user.id', op: 'eq', value: 1 }, { header: 'x', op: 'in' }, {}],
    tags: { a: 1, b: 'x', c: 'y' },
    even: 3,
    nmae: 'typo',
  });
  t.same(issues.map((i) => `${i.path}: ${i.message}`).sort(), [
    'enabled: expected true or false, got "yes"',
    'even: must be even, got 3',
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
  t.same(at({ field: 'a', header: 'h', op: 'equals', value: 'x' }), ['match[0]: needs only one of "field" or "header", got "field" and "header"']);
  t.same(at({ op: 'equals', value: 'x' }), ['match[0]: needs "field" or "header"']);
  t.same(at({ field: 'a', op: 'equals', value: true }), ['match[0].value: expected a string or a number, got true']);
  t.same(at([]), ['match[0]: expected an object, got an array']);
  t.end();
});

t.test('anyOf explains with the alternative of the same kind', (t) => {
  const tags = RULE.properties!.tags!;
  t.same(validate(tags, { a: ['x', 2] }, 'tags').map((i) => `${i.path}: ${i.message}`), ['tags.a[1]: expected a string, got 2']);
  t.same(validate(tags, { a: null }, 'tags').map((i) => i.message), ['expected a string or an array of strings, got null']);
  t.end();
});

t.test('numbers, strings and arrays check their bounds', (t) => {
  const messages = (schema: Schema, value: unknown) => validate(schema, value).map((i) => i.message);
  t.same(messages({ type: 'number', minimum: 0 }, -1), ['must be ≥ 0, got -1']);
  t.same(messages({ type: 'number', maximum: 10 }, 11), ['must be ≤ 10, got 11']);
  t.same(messages({ type: 'number' }, Number.NaN), ['expected a number, got NaN']);
  t.same(messages({ type: 'number' }, '1'), ['expected a number, got "1"']);
  t.same(messages({ type: 'string', minLength: 1 }, ''), ['must not be empty']);
  t.same(messages({ type: 'string', minLength: 3 }, 'ab'), ['must be at least 3 characters long']);
  t.same(messages({ type: 'string', maxLength: 2 }, 'abc'), ['must be at most 2 characters long, got 3']);
  t.same(messages({ type: 'array', items: { type: 'string' }, minItems: 2 }, ['a']), ['needs at least 2 entries, got 1']);
  t.same(messages({ type: 'array', items: { type: 'string' } }, 'a'), ['expected an array of strings, got "a"']);
  t.same(messages({ type: 'string' }, 'x'.repeat(100)), []);
  t.match(messages({ type: 'number' }, 'x'.repeat(100))[0], /got "x{50,}…$/, 'long values are shortened');
  t.end();
});

t.test('paths and descriptions', (t) => {
  t.equal(joinPath('', 'a'), 'a');
  t.equal(joinPath('a', 0), 'a[0]');
  t.equal(joinPath('tags', 'app.kubernetes.io/name'), 'tags["app.kubernetes.io/name"]');
  t.equal(expected({ type: 'array', items: { type: 'string', enum: ['x', 'y'] } }), 'an array of values from x, y');
  t.equal(expected({ type: 'boolean' }), 'true or false');
  t.end();
});
