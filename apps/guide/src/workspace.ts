import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root (this file is apps/guide/src or apps/guide/dist). */
export const WORKSPACE_ROOT = join(__dirname, '..', '..', '..');

export interface PublishablePackage {
  /** `packages/core`, relative to the workspace root. */
  readonly dir: string;
  readonly name: string;
  readonly version: string;
}

/** Every package under packages/ and plugins/ that is not private: what a release publishes. */
export function publishablePackages(): PublishablePackage[] {
  const found: PublishablePackage[] = [];
  for (const parent of ['packages', 'plugins']) {
    for (const child of readdirSync(join(WORKSPACE_ROOT, parent)).sort()) {
      const dir = `${parent}/${child}`;
      let manifest: { name: string; version: string; private?: boolean };
      try {
        manifest = JSON.parse(readFileSync(join(WORKSPACE_ROOT, dir, 'package.json'), 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (!manifest.private) found.push({ dir, name: manifest.name, version: manifest.version });
    }
  }
  return found;
}

/** The file name `pnpm pack` gives a package's tarball: `@trellis/core` 0.1.0 → `trellis-core-0.1.0.tgz`. */
export function tarballName(pkg: Pick<PublishablePackage, 'name' | 'version'>): string {
  return `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`;
}
