export { RuleDocumentError, RulesErrorCodes, formatIssue, invalidOption, type RuleIssue } from './errors.js';
export { parseRuleText, readRuleFile, MAX_DOCUMENT_BYTES, type ParseResult } from './parse.js';
export { validate, under, joinPath, show, expected, type Schema, type ObjectSchema, type SchemaIssue } from './schema.js';
export {
  readDocument, compileSection, ruleDocumentSchema, ruleDocumentFormats, NAME_SCHEMA, PRIORITY_SCHEMA,
  type RuleBase, type RuleSpec, type RuleDocument, type Outcome,
} from './document.js';
export { RuleSet, type RuleSetState, type RuleOrigin } from './rule-set.js';
export { loadStartupRules, type StartupRules } from './startup-rules.js';
export {
  watchRules, watchDocument, checkRuleDocument, RULES_GATE_ORDER,
  type RuleWatch, type RuleWatchContext, type DocumentWatchContext, type WatchRulesOptions, type WatchDocumentOptions, type DocumentHolder,
} from './watch-rules.js';
export {
  readWholeDocument, rejectedDocument, describePlace, type DocumentSpec, type DocumentIssue, type DocumentPlace, type ReadWholeDocument,
} from './document-spec.js';
export { documentRules, type DocumentRulesContext, type DocumentRulesOptions } from './document-rules.js';
export { knownSections } from './sections.js';
export { ROUTES_DOCUMENT, ON_EMPTY_VALUES, ON_EMPTY_SCHEMA, noEndpointError, type OnEmpty } from './routes.js';
export { warnRuleError } from './report.js';
export { resolveRuleSource, clientRules, routeWhileRulesApply, type RuleSourceOptions, type RulesUpdate, type ResolvedRuleSource } from './client-rules.js';
export { parseFieldPath, compileFieldPath, fieldPathProblem, scalarText, FIELD_PATH_FORMAT, type FieldGetter } from './field-path.js';
export { fnv1a32, mix32, stableHash32, FNV1A32_OFFSET } from './stable-hash.js';
