/**
 * The rule documents trellis validates, by their default names, known without loading the plugins
 * (the help lists them). documents.ts holds their validators; a test keeps the two lists equal.
 */
export const DOCUMENT_NAMES = ['routes', 'breaker', 'limits'] as const;
