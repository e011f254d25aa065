import { BREAKER_DOCUMENT, LIMITS_DOCUMENT, readBreakerDocument, readLimitsDocument } from '@trellis/breaker';
import { IP_RULES } from '@trellis/router-ip';
import { PARAM_RULES } from '@trellis/router-param';
import { compileSection, formatIssue, knownSections, readDocument, ROUTES_DOCUMENT, type RuleIssue, type RuleSpec } from '@trellis/rules';

/** One problem a document has, located as precisely as its validator says. */
export interface DocumentProblem {
  readonly message: string;
  readonly issue?: RuleIssue;
}

/**
 * A kind of rule document and the validation its plugin applies to it — the plugins' own code,
 * called here, so `trellis rules validate` accepts exactly what the consumers and providers accept.
 */
export interface RuleDocumentKind {
  /** The document's default name: `/trellis/config/{group}/{service}/{name}`. */
  readonly name: string;
  readonly summary: string;
  /** Problems with `text`; none when the plugins would apply it. */
  validate(text: string, source: string): DocumentProblem[];
}

/** The route sections: each router's RuleSpec, read as @trellis/rules' watchRules reads a live document. */
const ROUTE_SPECS: readonly RuleSpec<never, unknown>[] = [IP_RULES as RuleSpec<never, unknown>, PARAM_RULES as RuleSpec<never, unknown>];

const routes: RuleDocumentKind = {
  name: ROUTES_DOCUMENT,
  summary: 'routing rules (JSON or YAML): ip (@trellis/router-ip), param (@trellis/router-param)',
  validate(text) {
    const sections = [...new Set([...knownSections(ROUTES_DOCUMENT), ...ROUTE_SPECS.map((s) => s.section)])];
    const read = readDocument(text, sections);
    if (!read.ok) return read.issues.map(problem);
    return ROUTE_SPECS.flatMap((spec) => {
      const outcome = compileSection(spec, read.value.sections[spec.section]);
      return outcome.ok ? [] : outcome.issues.map(problem);
    });
  },
};

/** breaker/limiter validators throw their first problem as a TrellisError. */
function thrown(read: () => unknown): DocumentProblem[] {
  try {
    read();
    return [];
  } catch (error) {
    return [{ message: (error as Error).message }];
  }
}

const breaker: RuleDocumentKind = {
  name: BREAKER_DOCUMENT,
  summary: 'circuit breaker settings (JSON) for consumers: @trellis/breaker breaker()',
  validate: (text, source) => thrown(() => readBreakerDocument(`${BREAKER_DOCUMENT} document ${source}:`, text)),
};

const limits: RuleDocumentKind = {
  name: LIMITS_DOCUMENT,
  summary: 'rate and concurrency limits (JSON) for providers: @trellis/breaker limiter()',
  validate: (text, source) => thrown(() => readLimitsDocument(`${LIMITS_DOCUMENT} document ${source}:`, text)),
};

export const RULE_DOCUMENTS: readonly RuleDocumentKind[] = [routes, breaker, limits];

export function documentKind(name: string): RuleDocumentKind | undefined {
  return RULE_DOCUMENTS.find((kind) => kind.name === name);
}

function problem(issue: RuleIssue): DocumentProblem {
  return { message: formatIssue(issue), issue };
}
