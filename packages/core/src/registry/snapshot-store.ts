import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Endpoint } from '../endpoint.js';
import type { ServiceQuery } from '../registry.js';

/**
 * How long a registry's config watch waits for the live document before it serves the saved one:
 * the live document wins whenever the registry answers within it (stale rules never route a call
 * while the registry is up), and it is shorter than the rules gate's default wait (3 s), so calls
 * held at start-up run on the last known rules when the registry is down. Capped by the registry's
 * connect timeout.
 */
export function configSnapshotDelayMs(connectTimeoutMs: number): number {
  return Math.min(1000, connectTimeoutMs);
}

/**
 * Persists the last known provider list per service to a local file, so a consumer that starts while
 * the registry is down can still call the providers it knew, and likewise the last known rule document
 * (routes, breaker settings, …) per service and document name. Writes are atomic (temp file + rename);
 * a corrupt or missing snapshot reads as undefined, never as an error.
 *
 * Provider lists are `{dir}/{registry}__{group}__{service}.json`; rule documents live in `{dir}/config/`
 * (a provider file always ends in `.json`, so it can never be named `config`), one file per document
 * named with a hash of its full identity, so no two documents share a file.
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

  /** Saves a rule document as last delivered; `undefined` records that it is known to be absent (deleted). */
  saveConfig(registryName: string, query: ServiceQuery, name: string, document: string | undefined): void {
    try {
      const file = this.configFileFor(registryName, query, name);
      mkdirSync(dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      const body: ConfigSnapshot = { savedAt: Date.now(), id: configId(registryName, query, name), present: document !== undefined, document };
      writeFileSync(temp, JSON.stringify(body));
      renameSync(temp, file);
    } catch {
      // As for lists: a read-only disk only costs the snapshot.
    }
  }

  /**
   * The last saved rule document: undefined when there is no (readable) snapshot, `{ document: undefined }`
   * when the document was known to be absent.
   */
  loadConfig(registryName: string, query: ServiceQuery, name: string): { document: string | undefined } | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.configFileFor(registryName, query, name), 'utf8')) as Partial<ConfigSnapshot> | null;
      if (typeof parsed !== 'object' || parsed === null || parsed.id !== configId(registryName, query, name)) return undefined;
      if (parsed.present === false) return { document: undefined };
      if (parsed.present === true && typeof parsed.document === 'string') return { document: parsed.document };
      return undefined;
    } catch {
      return undefined;
    }
  }

  private configFileFor(registryName: string, query: ServiceQuery, name: string): string {
    const id = configId(registryName, query, name);
    const hash = createHash('sha256').update(id).digest('hex').slice(0, 16);
    // Readable for a human looking at the directory, bounded in length; the hash makes it unique.
    const readable = `${registryName}__${query.group}__${query.name}__${name}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 150);
    return join(this.directory, 'config', `${readable}.${hash}.json`);
  }

  private fileFor(registryName: string, query: ServiceQuery): string {
    const safe = `${registryName}__${query.group}__${query.name}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    return join(this.directory, `${safe}.json`);
  }
}

interface ConfigSnapshot {
  readonly savedAt: number;
  /** The document's full identity, checked on load (a renamed or copied file is not someone else's). */
  readonly id: string;
  readonly present: boolean;
  readonly document?: string | undefined;
}

function configId(registryName: string, query: ServiceQuery, name: string): string {
  return JSON.stringify([registryName, query.group, query.name, name]);
}
