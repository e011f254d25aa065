import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import { WORKSPACE_ROOT, describe, publishablePackages, runToEnd, tarballName, userEnv } from '../src/index.js';

// What a user gets from `pnpm pack` (the guide's way to install before the packages are published,
// and what `pnpm publish` uploads): checked in the tarballs themselves, then installed with npm into a
// project that resolves modules the old way (node10), where subpath exports need typesVersions.

const TIMEOUT_MS = 240_000;
const packages = publishablePackages();
const rootManifest = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as { repository: { url: string } };
const rootLicense = readFileSync(join(WORKSPACE_ROOT, 'LICENSE'), 'utf8');
const typescriptVersion = (JSON.parse(readFileSync(require.resolve('typescript/package.json'), 'utf8')) as { version: string }).version;
const nodeTypesRange = (JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@types/node']!;

interface Manifest {
  name: string;
  license?: string;
  engines?: { node?: string };
  repository?: { type?: string; url?: string; directory?: string };
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const home = mkdtempSync(join(tmpdir(), 'trellis-packaging-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));

t.test('every publishable package, as packed', async (t) => {
  t.ok(packages.length >= 15, `${packages.length} packages`);
  const tarballs = join(home, 'tarballs');
  mkdirSync(tarballs);
  const packed = await runToEnd('pnpm', ['-r', '--filter', './packages/*', '--filter', './plugins/*', 'pack', '--pack-destination', tarballs], {
    cwd: WORKSPACE_ROOT, env: userEnv(), timeoutMs: TIMEOUT_MS,
  });
  if (packed.code !== 0) return t.fail(`pnpm pack failed (${describe(packed)})`, { stderr: packed.stderr.slice(-3000) });

  for (const pkg of packages) {
    await t.test(pkg.name, async (t) => {
      const root = join(home, 'unpacked', pkg.dir);
      mkdirSync(root, { recursive: true });
      const untar = await runToEnd('tar', ['-xzf', join(tarballs, tarballName(pkg)), '-C', root, '--strip-components=1'], { cwd: home, env: userEnv(), timeoutMs: TIMEOUT_MS });
      if (untar.code !== 0) return t.fail(`tar failed: ${untar.stderr}`);
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;

      t.equal(readFileSync(join(root, 'LICENSE'), 'utf8'), rootLicense, 'LICENSE is the repository\'s');
      t.equal(manifest.license, 'Apache-2.0', 'the declared license is the LICENSE file\'s');
      t.equal(manifest.engines?.node, '>=20', 'engines.node');
      t.same(manifest.repository, { type: 'git', url: rootManifest.repository.url, directory: pkg.dir }, 'repository, with the package\'s directory');

      const specs = { ...manifest.dependencies, ...manifest.peerDependencies };
      t.same(Object.entries(specs).filter(([, spec]) => spec.startsWith('workspace:')), [], 'no workspace: ranges left');

      const entryPoints = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {}), ...exportTargets(manifest.exports)];
      t.same(entryPoints.filter((file) => file !== undefined && !existsSync(join(root, file))), [], 'every entry point is in the tarball');

      // A debugger shows the TypeScript source only if the map carries it or the file it names ships.
      const unresolved: string[] = [];
      for (const map of filesUnder(root).filter((file) => file.endsWith('.js.map'))) {
        const { sources, sourcesContent } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
        sources.forEach((source, i) => {
          if (typeof sourcesContent?.[i] === 'string') return;
          if (!existsSync(resolve(dirname(map), source))) unresolved.push(`${relative(root, map)} → ${source}`);
        });
      }
      t.same(unresolved.slice(0, 5), [], 'every source map is usable: sources inlined or shipped');
    });
  }
});

t.test('installed with npm into a node10-resolution project: every export type-checks and loads', async (t) => {
  const tarballs = join(home, 'tarballs');
  const project = join(home, 'node10-app');
  mkdirSync(project);
  const specifiers = packages.flatMap((pkg) => {
    const manifest = JSON.parse(readFileSync(join(WORKSPACE_ROOT, pkg.dir, 'package.json'), 'utf8')) as Manifest;
    return Object.keys(manifest.exports ?? { '.': {} })
      .filter((key) => key !== './package.json')
      .map((key) => pkg.name + key.slice(1));
  });
  t.ok(specifiers.includes('@trellis/core/spi'), 'subpath exports are among them');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'node10-app', version: '1.0.0', private: true, type: 'commonjs' }));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'commonjs', moduleResolution: 'node10', strict: true, noEmit: true,
      experimentalDecorators: true, emitDecoratorMetadata: true, types: ['node'],
      // The packages' own typings are checked too: that is where `@trellis/core/spi` is imported.
      skipLibCheck: false,
    },
    files: ['index.ts'],
  }));
  writeFileSync(join(project, 'index.ts'), specifiers.map((s, i) => `import * as m${i} from '${s}';\nvoid m${i};\n`).join(''));

  const install = await runToEnd('npm', [
    'install', '--no-audit', '--no-fund', '--prefer-offline',
    ...packages.map((pkg) => join(tarballs, tarballName(pkg))), `@types/node@${nodeTypesRange}`,
  ], { cwd: project, env: userEnv(), timeoutMs: TIMEOUT_MS });
  if (install.code !== 0) return t.fail(`npm install failed (${describe(install)})`, { stderr: install.stderr.slice(-3000) });

  // The workspace's own compiler (the version the guide installs), run on the project.
  const tsc = await runToEnd(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: project, env: userEnv(), timeoutMs: TIMEOUT_MS });
  t.equal(tsc.code, 0, `tsc ${typescriptVersion} with module commonjs / moduleResolution node10`, { errors: tsc.stdout.split('\n').slice(0, 20) });

  const load = await runToEnd(process.execPath, ['-e', `for (const s of ${JSON.stringify(specifiers)}) require(s);`], { cwd: project, env: userEnv(), timeoutMs: TIMEOUT_MS });
  t.equal(load.code, 0, 'every export loads with require()', { stderr: load.stderr.slice(-3000) });
});

function exportTargets(exports: Record<string, unknown> | undefined): string[] {
  const targets: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(exports);
  return targets;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((file) => join(dir, file));
}
