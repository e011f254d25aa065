import type { TrellisError } from '@trellis/core';
import type { ServiceQuery } from '@trellis/core/spi';
import type { DocumentSpec } from './document-spec.js';
import { warnRuleError } from './report.js';
import type { RuleSet } from './rule-set.js';
import { watchDocument, type DocumentWatchContext, type RuleWatch } from './watch-rules.js';

/** What a plugin context offers a document owner: the watch's needs and an inspector for operators. */
export interface DocumentRulesContext extends DocumentWatchContext {
  addInspector(name: string, snapshot: () => unknown): void;
}

export interface DocumentRulesOptions<V, C> {
  /** The service whose document it is: a client's `ctx.service`, or each service a server provides. */
  readonly service: ServiceQuery;
  /** The document's name (default: the spec's `document`). */
  readonly document?: string;
  /** What is in force; its fallback (the code's settings) returns when the live document is deleted. */
  readonly target: RuleSet<C>;
  /** From a checked document to what the plugin evaluates; may throw an InvalidOptionError (a combination only its settings reveal). */
  readonly compile: (value: V) => C;
  /** Follow the live document (default true); false: the fallback is all there is. */
  readonly live?: boolean;
  /** Rejected live documents (default: a process warning). */
  readonly onError?: (error: TrellisError) => void;
}

/**
 * Sets up one owned document for a client's or server's service: the live watch (when the registry
 * can watch documents), swaps into `options.target`, and an inspector
 * `@trellis/rules/{group}/{service}/{document}` saying which version is in force and from where, by
 * which the admin console finds the documents it may edit and validate.
 */
export function documentRules<V, C>(ctx: DocumentRulesContext, spec: DocumentSpec<V>, options: DocumentRulesOptions<V, C>): RuleWatch | undefined {
  const document = options.document ?? spec.document;
  const { service, target } = options;
  const live = options.live ?? true;
  ctx.addInspector(`@trellis/rules/${service.group}/${service.name}/${document}`, () => {
    const { version, origin, source } = target.state;
    return { document, service: `${service.group}/${service.name}`, side: spec.side, live, version, origin, source };
  });
  if (!live) return undefined;
  return watchDocument(ctx, { group: service.group, name: service.name }, document, {
    spec, compile: options.compile, target, onError: options.onError ?? warnRuleError,
  });
}
