import t from 'tap';
import { compileFieldPath, fieldPathProblem, parseFieldPath, scalarText } from '../src/index.js';

t.test('field paths reach nested fields, list items, and snake_case names as decoded camelCase', (t) => {
  const request = { user: { id: '1001', homeRegion: 'eu' }, items: [{ sku: 'a' }, { sku: 'b' }], labels: { tier: 'gold' } };
  t.equal(compileFieldPath('user.id')(request), '1001');
  t.equal(compileFieldPath('user.home_region')(request), 'eu');
  t.equal(compileFieldPath('items[1].sku')(request), 'b');
  t.equal(compileFieldPath('labels.tier')(request), 'gold');
  t.equal(compileFieldPath('user.missing.deeper')(request), undefined);
  t.equal(compileFieldPath('items[5].sku')(request), undefined);
  t.equal(compileFieldPath('user.id')(undefined), undefined);
  t.equal(compileFieldPath('user.id')('text'), undefined);
  t.equal(compileFieldPath('id')({ id: 7 }), 7, 'a one-segment path');
  t.end();
});

t.test('a malformed path, or one that reaches the prototype, is a problem; a usable one is not', (t) => {
  t.same(parseFieldPath('items[2].sku'), ['items', 2, 'sku']);
  t.match(parseFieldPath('user..id'), /is not a field path/);
  t.match(parseFieldPath('x'.repeat(257)), /longer than 256/);
  t.equal(fieldPathProblem('user.id'), undefined);
  t.match(fieldPathProblem('user id'), /is not a field path; write fields separated by dots/);
  t.equal(fieldPathProblem('user.__proto__'), '"__proto__" cannot be a field name');
  t.equal(fieldPathProblem('constructor'), '"constructor" cannot be a field name');
  t.throws(() => compileFieldPath('a b'), /is not a field path/);
  t.end();
});

t.test('scalarText: values compare and hash by their text; messages and lists are not values', (t) => {
  t.equal(scalarText('42'), '42');
  t.equal(scalarText(42), '42');
  t.equal(scalarText(42n), '42');
  t.equal(scalarText(true), 'true');
  t.equal(scalarText({ low: 42, high: 0, toString: () => '42' }), '42', 'a protobufjs Long');
  t.equal(scalarText({ id: 1 }), undefined);
  t.equal(scalarText(['1']), undefined);
  t.equal(scalarText(null), undefined);
  t.equal(scalarText(undefined), undefined);
  t.end();
});
