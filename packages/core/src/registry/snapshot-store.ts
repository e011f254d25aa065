import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Endpoint } from '../endpoint.js';
import type { ServiceQuery } from '../registry.js';

/**
 * Persists the last known provider list per service to a local file, so a consumer that starts while
 * the registry is down can still call the providers it knew. Writes are atomic (temp file + rename);
 * a corrupt or missing snapshot reads as undefined, never as an error.
 */
export class SnapshotStore {
  constructor(readonly directory: string) {}

  save(registryName: string, query: ServiceQuery, endpoints: readonly Endpoint[]): void {
    try {
      mkdirSync(this.directory, { recursive: true });
      const file = this.fileFor(registryName, query);
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify({ savedAt: Date.now(), endpoints }));
      renameSync(temp, file);
    } catch {
      // A read-only disk must not break discovery; the in-memory cache still works.
    }
  }

  load(registryName: string, query: ServiceQuery): readonly Endpoint[] | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.fileFor(registryName, query), 'utf8')) as { endpoints?: unknown };
      if (!Array.isArray(parsed.endpoints)) return undefined;
      return parsed.endpoints.filter(
        (e): e is Endpoint => typeof e?.id === 'string' && typeof e.host === 'string' && typeof e.port === 'number',
      );
    } catch {
      return undefined;
    }
  }

  private fileFor(registryName: string, query: ServiceQuery): string {
    const safe = `${registryName}__${query.group}__${query.name}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    return join(this.directory, `${safe}.json`);
  }
}
