import { compileSection, readDocument, type RuleBase, type RuleSpec } from './document.js';
import { RuleDocumentError, invalidOption, type RuleIssue } from './errors.js';
import { readRuleFile } from './parse.js';
import type { RuleSetState } from './rule-set.js';
import { knownSections } from './sections.js';

export interface StartupRules {
  /**
   * The rules of this plugin's section as an array, or a whole document: an object
   * (`{ version, ip: […], param: […] }`) or its JSON / YAML text.
   */
  readonly rules?: unknown;
  /** Path of a document file (JSON or YAML), read once, when the plugin is created. */
  readonly file?: string;
}

/**
 * Compiles the rules a plugin is given at start-up. Mistakes throw here, from the plugin factory, as
 * `ERR_INVALID_OPTION` naming the option, the rule and the field. No rules compile to an empty set.
 */
export function loadStartupRules<R extends RuleBase, C>(
  plugin: string,
  spec: RuleSpec<R, C>,
  input: StartupRules,
  document: string,
): RuleSetState<C> {
  const { rules, file } = input;
  if (rules !== undefined && file !== undefined) {
    throw invalidOption(plugin, 'file', file, `nothing when "rules" is given too (${plugin} takes its start-up rules from one of them)`);
  }
  let option = 'rules';
  let source = 'option "rules"';
  let given: unknown = rules;
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') throw invalidOption(plugin, 'file', file, 'the path of a JSON or YAML rule document');
    option = 'file';
    source = `file ${file}`;
    try {
      given = readRuleFile(file);
    } catch (error) {
      throw invalidOption(plugin, 'file', file, `a readable JSON or YAML rule document (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  if (given === undefined) return { compiled: expectOk(plugin, option, compileSection(spec, [])), version: 'none', origin: 'options', source: 'none' };
  if (Array.isArray(given)) {
    return { compiled: expectOk(plugin, option, compileSection(spec, given)), version: 'options', origin: 'options', source };
  }
  if (typeof given !== 'string' && (typeof given !== 'object' || given === null)) {
    throw invalidOption(plugin, option, given, `an array of ${spec.section} rules, a rule document object, or its JSON / YAML text`);
  }
  const sections = [...new Set([...knownSections(document), spec.section])];
  const read = expectOk(plugin, option, readDocument(given, sections));
  return { compiled: expectOk(plugin, option, compileSection(spec, read.sections[spec.section])), version: read.version, origin: 'options', source };
}

function expectOk<T>(plugin: string, option: string, outcome: { ok: true; value: T } | { ok: false; issues: readonly RuleIssue[] }): T {
  if (!outcome.ok) throw RuleDocumentError.invalidOption(plugin, option, outcome.issues);
  return outcome.value;
}
