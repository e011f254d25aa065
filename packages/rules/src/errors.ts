import { ErrorCodes, TrellisError, invalidOption as coreInvalidOption } from '@trellis/core';

export const RulesErrorCodes = {
  /** A rule document from a live source was rejected; the previous rules stay in force. */
  INVALID_RULES: 'ERR_INVALID_RULES',
  /** No rule document arrived from the live source in time; start-up rules route meanwhile. */
  RULES_NOT_LOADED: 'ERR_RULES_NOT_LOADED',
} as const;

/** One thing wrong with a document, located as precisely as the document allows. */
export interface RuleIssue {
  /** The section the rule is in (`param`, `ip`), when the issue is inside one. */
  readonly section?: string;
  /** The rule's `name`, when it has a usable one. */
  readonly rule?: string;
  /** 0-based position of the rule in its section (for rules without a usable name). */
  readonly index?: number;
  /** Path inside the rule (`match[0].op`), or inside the document when `section` is unset. */
  readonly field: string;
  /** What is wrong: `expected one of equals, in, got "eq"`. */
  readonly message: string;
}

/** `rule "gray-users" field "match[0].op": expected one of …, got "eq"` */
export function formatIssue(issue: RuleIssue): string {
  let where: string;
  if (issue.rule !== undefined) where = `rule ${JSON.stringify(issue.rule)}`;
  else if (issue.index !== undefined) where = `rule ${issue.section ?? ''}[${issue.index}]`;
  else where = 'document';
  return issue.field === '' ? `${where}: ${issue.message}` : `${where} field ${JSON.stringify(issue.field)}: ${issue.message}`;
}

const LISTED = 5;

function describe(issues: readonly RuleIssue[]): string {
  const shown = issues.slice(0, LISTED).map(formatIssue).join('; ');
  return issues.length > LISTED ? `${shown}; and ${issues.length - LISTED} more` : shown;
}

/**
 * A rule document that failed parsing or validation. `issues` lists every problem found (not only
 * the first), so one round of fixes is enough. The code is `ERR_INVALID_OPTION` for rules given in
 * plugin options (a start-up mistake) and `ERR_INVALID_RULES` for documents from a live source.
 */
export class RuleDocumentError extends TrellisError {
  readonly issues: readonly RuleIssue[];
  /** Where the document came from: `option "rules"`, `file /etc/routes.yaml`, `etcd /trellis/config/…`. */
  readonly source: string;

  constructor(code: string, source: string, issues: readonly RuleIssue[], prefix: string) {
    super(code as `ERR_${string}`, `${prefix}: ${describe(issues)}`);
    this.issues = issues;
    this.source = source;
  }

  /** For rules passed in plugin options: thrown by the plugin factory. */
  static invalidOption(plugin: string, option: string, issues: readonly RuleIssue[]): RuleDocumentError {
    return new RuleDocumentError(ErrorCodes.INVALID_OPTION, `option "${option}"`, issues, `${plugin} option "${option}" holds invalid rules`);
  }

  /** For a live document: reported, and the rules in force stay. */
  static rejected(source: string, issues: readonly RuleIssue[]): RuleDocumentError {
    return new RuleDocumentError(RulesErrorCodes.INVALID_RULES, source, issues, `the ${source} was rejected; the previous rules stay in force`);
  }
}

/**
 * A plugin option with a wrong value: `@trellis/router-ip option "file" is 42; expected …` — core's one
 * factory (`invalidOption` of @trellis/core), with the plugin named first.
 */
export function invalidOption(plugin: string, name: string, value: unknown, expected: string): TrellisError {
  return coreInvalidOption(name, value, expected, plugin);
}
