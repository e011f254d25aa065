import type { InstanceInfo } from '@trellis/core/spi';
import { CliError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import type { RegistryAddress } from './address.js';

/** One service as the registry holds it: its providers and the rule documents written for it. */
export interface CatalogService {
  readonly group: string;
  readonly name: string;
  /** Parsed with core's `parseInstance`, as consumers read them. */
  readonly providers: readonly InstanceInfo[];
  /** Provider documents that consumers would skip as malformed (by key). */
  readonly malformed: readonly string[];
  /** Names of the rule documents under `{root}/config/{group}/{service}/`. */
  readonly documents: readonly string[];
}

/**
 * A one-shot read of everything a registry holds under its root. The `Registry` interface only
 * subscribes to services whose names are known, and listing them is what `trellis ls` (and, later, a
 * registry-wide console) needs, so each backend reads the shared key layout (`RegistryPaths`) itself.
 */
export interface ServiceCatalog {
  services(): Promise<CatalogService[]>;
  close(): Promise<void>;
}

/** The registry did not answer: say which address, what failed and what to check. */
export function registryUnreachable(address: RegistryAddress, what: string, reason: string, cause?: unknown): CliError {
  const system = address.kind === 'etcd' ? 'etcd' : 'ZooKeeper';
  return new CliError(ExitCode.REGISTRY_UNREACHABLE, `${system} at ${address.display} is unreachable (${what}): ${reason}`, {
    hint: `check --registry (or TRELLIS_REGISTRY) and that ${system} is running there; --registry-timeout waits longer`,
    details: { registry: address.display },
    cause,
  });
}

/** Folds per-key reads into CatalogServices, sorted by group then name. */
export class CatalogBuilder {
  private readonly byKey = new Map<string, { group: string; name: string; providers: InstanceInfo[]; malformed: string[]; documents: string[] }>();

  private entry(group: string, name: string) {
    const key = `${group}/${name}`;
    let entry = this.byKey.get(key);
    if (entry === undefined) this.byKey.set(key, (entry = { group, name, providers: [], malformed: [], documents: [] }));
    return entry;
  }

  provider(group: string, name: string, id: string, info: InstanceInfo | undefined): void {
    const entry = this.entry(group, name);
    if (info === undefined) entry.malformed.push(id);
    else entry.providers.push(info);
  }

  /** A service node with no provider under it (ZooKeeper keeps empty parents): listed only if it has documents. */
  document(group: string, name: string, document: string): void {
    this.entry(group, name).documents.push(document);
  }

  build(): CatalogService[] {
    return [...this.byKey.values()]
      .map((e) => ({
        ...e,
        providers: e.providers.sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port),
        documents: e.documents.sort(),
      }))
      .sort((a, b) => a.group.localeCompare(b.group) || a.name.localeCompare(b.name));
  }
}
