import t from 'tap';
import { docSnippets } from '../src/doc-snippets.js';

t.test('code blocks come back in order, with their file, section and note', async (t) => {
  const markdown = [
    '# Title',
    '```sh',
    'npm install',
    '```',
    '## Provider',
    'Write this:',
    '<!-- test: needs redactErrors -->',
    '```ts',
    '// file: src/provider.ts',
    "console.log('## not a heading');",
    '```',
    '````md',
    '```ts',
    'nested fence',
    '```',
    '````',
    '## Consumer',
    '```jsonc',
    '# file: tsconfig.json',
    '{}',
    '```',
  ].join('\n');
  t.same(docSnippets(markdown), [
    { lang: 'sh', code: 'npm install\n', section: '', line: 2 },
    {
      lang: 'ts', code: "// file: src/provider.ts\nconsole.log('## not a heading');\n", section: 'Provider', line: 8,
      file: 'src/provider.ts', note: 'needs redactErrors',
    },
    { lang: 'md', code: '```ts\nnested fence\n```\n', section: 'Provider', line: 12 },
    { lang: 'jsonc', code: '# file: tsconfig.json\n{}\n', section: 'Consumer', line: 18, file: 'tsconfig.json' },
  ]);
});

t.test('an unclosed block is an error naming its line', async (t) => {
  t.throws(() => docSnippets('text\n```ts\nconst a = 1;\n'), /line 2: code block not closed/);
});
