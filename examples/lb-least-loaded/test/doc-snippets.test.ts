import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { docSnippets } from '@trellis/testkit';

// docs/writing-a-plugin.md is type-checked as a reader would copy it: each TypeScript block is the file
// its first line names, compiled together with this package's compiler options and dependencies.
const PACKAGE_ROOT = join(__dirname, '..');
const GUIDE = join(PACKAGE_ROOT, '..', '..', 'docs', 'writing-a-plugin.md');
const snippets = docSnippets(readFileSync(GUIDE, 'utf8')).filter((s) => s.lang === 'ts');

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(PACKAGE_ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, PACKAGE_ROOT, undefined, configPath);
  return { ...options, noEmit: true, rootDir: undefined };
}

function typeCheck(dir: string, files: readonly string[]): string[] {
  const program = ts.createProgram(files.map((file) => join(dir, file)), compilerOptions());
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file
      ? `${relative(dir, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}: `
      : '';
    return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  });
}

function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

t.test('every TypeScript block names its file', async (t) => {
  t.ok(snippets.length >= 3, `${snippets.length} blocks`);
  for (const snippet of snippets) t.ok(snippet.file, `the block at line ${snippet.line} starts with // file: PATH`);
});

t.test('the snippets compile as written, against the same kernel as the example', async (t) => {
  const files = Object.fromEntries(snippets.filter((s) => s.file).map((s) => [s.file!, s.code]));
  const dir = writeFiles(t.testdir(), files);
  t.same(typeCheck(dir, Object.keys(files)), [], 'no type errors');
});

t.test('the check is not vacuous: the least-loaded block without its definePlugin import fails', async (t) => {
  const block = snippets.find((s) => s.file === 'src/least-loaded.ts');
  t.ok(block, 'the least-loaded block is there');
  const broken = block!.code.replace("import { definePlugin, type Endpoint, type Invocation } from '@trellis/core';", "import type { Endpoint, Invocation } from '@trellis/core';");
  t.not(broken, block!.code, 'the import line is the one the guide shows');
  const dir = writeFiles(t.testdir(), { 'src/least-loaded.ts': broken });
  t.match(typeCheck(dir, ['src/least-loaded.ts']), [/Cannot find name 'definePlugin'/]);
});
