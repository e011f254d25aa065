import t from 'tap';
import Ajv2020 from 'ajv/dist/2020';
import { compileSection, readDocument, ruleDocumentFormats, ruleDocumentSchema } from '@trellis/rules';
import { PARAM_RULES } from '../src/index.js';

// What a browser (the admin console) does: the exported JSON Schema, an independent validator.
const schema = ruleDocumentSchema([PARAM_RULES], ['ip']);
const ajv = new Ajv2020({ allErrors: true });
for (const [name, test] of Object.entries(ruleDocumentFormats())) ajv.addFormat(name, test);
const browserAccepts = ajv.compile(schema);

// What a consumer does when the document arrives.
function serverAccepts(document: unknown): boolean {
  const read = readDocument(document, ['ip', 'param']);
  return read.ok && compileSection(PARAM_RULES, read.value.sections.param).ok;
}

const rule = (extra: Record<string, unknown>) => ({ name: 'gray', target: { version: 'v2' }, ...extra });

const valid: [string, unknown][] = [
  ['an empty document', {}],
  ['a version and no rules', { version: 'v1', param: [] }],
  ['a null section', { param: null }],
  ['a rule without match', { param: [rule({})] }],
  ['every operator', { param: [rule({ priority: -5, onEmpty: 'next', match: [
    { field: 'user.id', op: 'in', values: ['1', 2, true] },
    { header: 'x-lane', op: 'equals', value: 'gray' },
    { field: 'items[0].sku', op: 'regex', pattern: '^(a|b)+$' },
    { field: 'age', op: 'range', min: 18 },
    { field: 'user.id', op: 'percent', percent: 12.5, salt: 's' },
  ] })] }],
  ['tags with lists', { version: 3, param: [rule({ target: { lane: ['gray', 'canary'], zone: 'a' } })] }],
  ['another plugin\'s section', { ip: [{ anything: 'the router-ip schema judges it' }] }],
];

const invalid: [string, unknown][] = [
  ['an unknown operator', { param: [rule({ match: [{ field: 'a', op: 'eq', value: 1 }] })] }],
  ['an operator without its operand', { param: [rule({ match: [{ field: 'a', op: 'in' }] })] }],
  ['an empty list of values', { param: [rule({ match: [{ field: 'a', op: 'in', values: [] }] })] }],
  ['an operand of another operator', { param: [rule({ match: [{ field: 'a', op: 'equals', value: 1, values: [1] }] })] }],
  ['a missing target', { param: [{ name: 'x' }] }],
  ['a rule without a name', { param: [{ target: {} }] }],
  ['a misspelt field', { param: [rule({ onEmtpy: 'next' })] }],
  ['a misspelt section', { parm: [] }],
  ['a fractional priority', { param: [rule({ priority: 1.5 })] }],
  ['an onEmpty outside the enum', { param: [rule({ onEmpty: 'skip' })] }],
  ['a regex needing backtracking', { param: [rule({ match: [{ field: 'a', op: 'regex', pattern: '(\\w+)\\1' }] })] }],
  ['a malformed field path', { param: [rule({ match: [{ field: 'user..id', op: 'equals', value: 1 }] })] }],
  ['a header with a space', { param: [rule({ match: [{ header: 'x lane', op: 'equals', value: 1 }] })] }],
  ['a percent above 100', { param: [rule({ match: [{ field: 'a', op: 'percent', percent: 101 }] })] }],
  ['too many target tags', { param: [rule({ target: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) })] }],
  ['a section that is not a list', { param: { name: 'x' } }],
];

t.test('the exported JSON Schema accepts what the server accepts', async (t) => {
  for (const [what, document] of valid) {
    t.ok(serverAccepts(document), `server: ${what}`);
    t.ok(browserAccepts(document), `browser: ${what} ${JSON.stringify(browserAccepts.errors)}`);
  }
});

t.test('and refuses what the server refuses', async (t) => {
  for (const [what, document] of invalid) {
    t.notOk(serverAccepts(document), `server: ${what}`);
    t.notOk(browserAccepts(document), `browser: ${what}`);
  }
});

t.test('only what JSON Schema cannot say is checked by the server alone', async (t) => {
  // Documented on RuleSpec.check: the browser accepts a little more than the server, never less.
  const serverOnly = [
    { param: [rule({ match: [{ field: 'age', op: 'range', min: 5, max: 5 }] })] },
    { param: [rule({ match: [{ field: 'a', header: 'b', op: 'equals', value: 1 }] })] },
    { param: [rule({}), rule({})] },
  ];
  for (const document of serverOnly) {
    t.notOk(serverAccepts(document), JSON.stringify(document));
    t.ok(browserAccepts(document), JSON.stringify(document));
  }
});

t.test('the schema is plain JSON', async (t) => {
  t.same(JSON.parse(JSON.stringify(schema)), schema);
  t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
});
