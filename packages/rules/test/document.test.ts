import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  compileSection, formatIssue, loadStartupRules, MAX_DOCUMENT_BYTES, parseRuleText, readDocument, resolveRuleSource,
  RuleDocumentError, RulesErrorCodes,
} from '../src/index.js';
import { limitSpec } from './fixtures/limits.js';

const spec = limitSpec('param');

t.test('JSON and YAML texts parse to the same document', (t) => {
  const json = parseRuleText('{"version": 3, "param": [{"name": "a", "max": 2}]}');
  const yaml = parseRuleText('version: 3\nparam:\n  - name: a\n    max: 2\n');
  t.ok(json.ok && yaml.ok);
  t.same(json.ok && json.value, yaml.ok && yaml.value);
  t.end();
});

t.test('unparsable text says where and why', (t) => {
  const badJson = parseRuleText('{"version": 3,, }');
  t.match(!badJson.ok && badJson.issue.message, /^is not valid JSON: /);
  const badYaml = parseRuleText('version: 3\nparam:\n  - name: a\n   max: [\n');
  t.match(!badYaml.ok && badYaml.issue.message, /^is not valid YAML at line \d+, column \d+: /);
  const duplicate = parseRuleText('version: 1\nversion: 2\n');
  t.match(!duplicate.ok && duplicate.issue.message, /not valid YAML.*[Mm]ap keys must be unique/);
  const empty = parseRuleText('  \n');
  t.equal(!empty.ok && empty.issue.message, 'is empty');
  const huge = parseRuleText(`# ${'x'.repeat(MAX_DOCUMENT_BYTES)}`);
  t.match(!huge.ok && huge.issue.message, /larger than 1048576 bytes/);
  t.end();
});

t.test('a YAML alias bomb is refused instead of expanded', (t) => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const bomb = parseRuleText(lines.join('\n'));
  t.equal(bomb.ok, false);
  t.match(!bomb.ok && bomb.issue.message, /alias/i);
  t.end();
});

t.test('a document has a version and known sections only', (t) => {
  const ok = readDocument('version: "2026-11-27.1"\nparam: []\nip: []\n', ['ip', 'param']);
  t.same(ok.ok && ok.value, { version: '2026-11-27.1', sections: { param: [], ip: [] } });
  const numbered = readDocument({ version: 7 }, ['param']);
  t.equal(numbered.ok && numbered.value.version, '7');
  const unversioned = readDocument('param: []', ['param']);
  t.match(unversioned.ok && unversioned.value.version, /^sha256:[0-9a-f]{12}$/, 'content hash when no version is given');
  const typo = readDocument({ parm: [], version: true }, ['ip', 'param']);
  t.same(!typo.ok && typo.issues.map(formatIssue), [
    'document field "parm": unknown section; known: version, ip, param',
    'document field "version": expected a string or a number, got true',
  ]);
  const list = readDocument('[1, 2]', ['param']);
  t.same(!list.ok && list.issues.map(formatIssue), ['document: must be an object with "param" and an optional "version", got an array']);
  t.end();
});

t.test('section errors name the rule (or its position) and the field', (t) => {
  const outcome = compileSection(spec, [
    { name: 'gray-users', max: 0 },
    { max: 2 },
    { name: 'gray-users', max: 3 },
    { name: 'x', max: 1, extra: 1 },
  ]);
  t.notOk(outcome.ok);
  t.same(!outcome.ok && outcome.issues.map(formatIssue), [
    'rule "gray-users" field "max": must be ≥ 1, got 0',
    'rule param[1] field "name": required',
    'rule "gray-users" field "name": is also the name of param[0]; names must be unique in a section',
    'rule "x" field "extra": unknown field; known fields: name, priority, max',
  ]);
  const notList = compileSection(spec, { name: 'a' });
  t.same(!notList.ok && notList.issues.map(formatIssue), ['document field "param": expected an array of rules, got an object']);
  const tooMany = compileSection(spec, Array.from({ length: 6 }, (_, i) => ({ name: `r${i}`, max: 1 })));
  t.match(!tooMany.ok && formatIssue(tooMany.issues[0]!), /may hold at most 5 rules, got 6/);
  t.end();
});

t.test('rules compile in priority order; equal priorities keep document order', (t) => {
  const outcome = compileSection(spec, [
    { name: 'c', max: 1 },
    { name: 'a', max: 1, priority: -5 },
    { name: 'd', max: 1 },
    { name: 'b', max: 2, priority: 10 },
  ]);
  t.same(outcome.ok && outcome.value, ['a≤1', 'c≤1', 'd≤1', 'b≤2']);
  const none = compileSection(spec, undefined);
  t.same(none.ok && none.value, [], 'an absent section is no rules');
  t.end();
});

t.test('a compile step that throws rejects the section instead of crashing', (t) => {
  const broken = { ...spec, compile: () => { throw new Error('boom'); } };
  const outcome = compileSection(broken, [{ name: 'a', max: 1 }]);
  t.same(!outcome.ok && outcome.issues.map(formatIssue), ['document field "param": could not be compiled: boom']);
  t.end();
});

t.test('start-up rules: an array, a document object, its text, or a file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-rules-'));
  const file = join(dir, 'routes.yaml');
  writeFileSync(file, 'version: v9\nparam:\n  - name: f\n    max: 9\nip: []\n');
  const fromArray = loadStartupRules('@x/p', spec, { rules: [{ name: 'a', max: 1 }] }, 'routes');
  t.same(fromArray, { compiled: ['a≤1'], version: 'options', origin: 'options', source: 'option "rules"' });
  const fromObject = loadStartupRules('@x/p', spec, { rules: { version: 2, param: [{ name: 'b', max: 2 }] } }, 'routes');
  t.same(fromObject, { compiled: ['b≤2'], version: '2', origin: 'options', source: 'option "rules"' });
  const fromText = loadStartupRules('@x/p', spec, { rules: '{"param": [{"name": "c", "max": 3}]}' }, 'routes');
  t.same(fromText.compiled, ['c≤3']);
  const fromFile = loadStartupRules('@x/p', spec, { file }, 'routes');
  t.same(fromFile, { compiled: ['f≤9'], version: 'v9', origin: 'options', source: `file ${file}` });
  const none = loadStartupRules('@x/p', spec, {}, 'routes');
  t.same(none, { compiled: [], version: 'none', origin: 'options', source: 'none' });
  t.end();
});

t.test('bad start-up rules throw ERR_INVALID_OPTION naming the option, rule and field', (t) => {
  t.throws(() => loadStartupRules('@x/p', spec, { rules: [{ name: 'gray-users', max: 'ten' }] }, 'routes'), {
    name: 'TrellisError',
    code: 'ERR_INVALID_OPTION',
    message: '@x/p option "rules" holds invalid rules: rule "gray-users" field "max": expected an integer, got "ten"',
  });
  const error = (() => {
    try {
      loadStartupRules('@x/p', spec, { rules: 'param: [' }, 'routes');
    } catch (e) {
      return e as RuleDocumentError;
    }
  })();
  t.type(error, RuleDocumentError);
  t.match(error?.issues[0]?.message, /not valid YAML/);
  t.throws(() => loadStartupRules('@x/p', spec, { file: '/nonexistent/routes.yaml' }, 'routes'), { code: 'ERR_INVALID_OPTION', message: /option "file" is "\/nonexistent\/routes.yaml"; expected a readable JSON or YAML rule document \(ENOENT\)/ });
  t.throws(() => loadStartupRules('@x/p', spec, { rules: [], file: 'x' }, 'routes'), { code: 'ERR_INVALID_OPTION', message: /option "file".*nothing when "rules" is given too/ });
  t.throws(() => loadStartupRules('@x/p', spec, { rules: 42 }, 'routes'), { code: 'ERR_INVALID_OPTION', message: /option "rules" is 42; expected an array of param rules, a rule document object, or its JSON \/ YAML text/ });
  t.end();
});

t.test('plugin options are checked, typos included', (t) => {
  t.throws(() => resolveRuleSource('@x/p', spec, { rulez: [] } as never), { code: 'ERR_INVALID_OPTION', message: '@x/p option "rulez" is []; expected one of the known keys (did you mean "rules"?): rules, file, live, document, liveWaitMs, onError, onUpdate' });
  t.throws(() => resolveRuleSource('@x/p', spec, { live: 'yes' } as never), { code: 'ERR_INVALID_OPTION', message: /option "live" is "yes"; expected true or false/ });
  t.throws(() => resolveRuleSource('@x/p', spec, { document: 'a/b' }), { code: 'ERR_INVALID_OPTION', message: /option "document"/ });
  t.throws(() => resolveRuleSource('@x/p', spec, { liveWaitMs: -1 }), { code: 'ERR_INVALID_OPTION', message: /option "liveWaitMs" is -1/ });
  t.throws(() => resolveRuleSource('@x/p', spec, { onError: 'log' } as never), { code: 'ERR_INVALID_OPTION', message: /option "onError"/ });
  t.throws(() => resolveRuleSource('@x/p', spec, { onUpdate: 1 } as never), { code: 'ERR_INVALID_OPTION', message: /option "onUpdate"/ });
  const resolved = resolveRuleSource('@x/p', spec, { rules: [{ name: 'a', max: 1 }], extra: 1 } as never, ['extra']);
  t.equal(resolved.live, true);
  t.equal(resolved.document, 'routes');
  t.equal(resolved.liveWaitMs, 3000);
  t.same(resolved.startup.compiled, ['a≤1']);
  t.end();
});

t.test('error codes', (t) => {
  t.equal(RulesErrorCodes.INVALID_RULES, 'ERR_INVALID_RULES');
  const rejected = RuleDocumentError.rejected('"routes" document of default/s from the memory registry', [{ field: '', message: 'is empty' }]);
  t.equal(rejected.code, 'ERR_INVALID_RULES');
  t.equal(rejected.message, 'the "routes" document of default/s from the memory registry was rejected; the previous rules stay in force: document: is empty');
  const many = RuleDocumentError.rejected('x', Array.from({ length: 7 }, (_, i) => ({ rule: `r${i}`, field: 'f', message: 'bad' })));
  t.match(many.message, /; and 2 more$/);
  t.equal(many.issues.length, 7);
  t.end();
});
