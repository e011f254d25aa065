import { isConfigSource, RegistryPaths, type Disposable, type Registry, type ServiceQuery } from '@trellis/core/spi';

/** What a watcher needs: how to apply a document (throwing if it is bad) and where to say so. */
export interface DocumentHandler {
  /** `source` names the document in error messages. Throws a TrellisError for a bad document. */
  apply(source: string, text: string | undefined): void;
  report(error: Error): void;
}

/**
 * Watches one rule document (`/trellis/config/{group}/{service}/{name}`) when the registry can serve
 * them, and hands each version to `handler`. A document that fails validation is reported and
 * dropped; whatever was in force stays. Returns undefined when the registry has no config support.
 */
export function watchDocument(registry: Registry, query: ServiceQuery, name: string, handler: DocumentHandler): Disposable | undefined {
  if (!isConfigSource(registry)) return undefined;
  const path = RegistryPaths.config(RegistryPaths.DEFAULT_ROOT, query, name);
  const source = `${name} document ${path}:`;
  let last: string | undefined;
  let first = true;
  return registry.watchConfig(query, name, (text) => {
    // Registries may repeat a version (reconnects, snapshots); re-applying would reset nothing but
    // still churn listeners.
    if (!first && text === last) return;
    first = false;
    try {
      handler.apply(source, text);
      last = text;
    } catch (error) {
      const wrapped = error instanceof Error ? error : new Error(String(error));
      wrapped.message = `${wrapped.message}; the previous settings stay in force`;
      handler.report(wrapped);
    }
  });
}

/** The default `onError`: a process warning, as the server does for its own asynchronous errors. */
export function warn(error: Error): void {
  process.emitWarning(error.message, 'TrellisWarning');
}
