/**
 * Sections each shared document may hold, beyond those of the plugins a client loaded. A consumer that
 * uses only router-ip still accepts a `routes` document with a `param` section (it is for consumers
 * that load router-param), while a misspelt section is an error.
 */
const KNOWN_SECTIONS = new Map<string, readonly string[]>([['routes', ['ip', 'param']]]);

export function knownSections(document: string): readonly string[] {
  return KNOWN_SECTIONS.get(document) ?? [];
}
