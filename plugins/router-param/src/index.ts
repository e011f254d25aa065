export { paramRouter, PLUGIN_NAME, type ParamRouterOptions } from './plugin.js';
export { ParamRouter } from './param-router.js';
export {
  PARAM_RULES, PARAM_RULE_SCHEMA, compileTarget,
  type ParamRule, type TargetTags, type CompiledParamRule, type CompiledParamRules, type CompiledTarget,
} from './param-rules.js';
export {
  OPERATORS, CONDITION_SCHEMA, MAX_REGEX_INPUT, compileCondition, compileMatch,
  type Condition, type Operator, type Scalar, type Predicate,
} from './conditions.js';
export { bucketOf, BUCKETS } from './hash.js';
// Moved to @trellis/rules (shared with lb-hash); re-exported so existing imports keep working.
export { fnv1a32, mix32, compileFieldPath, parseFieldPath, type FieldGetter } from '@trellis/rules';
export { LinearRegex, RegexSyntaxError, MAX_REPEAT, MAX_STATES } from './linear-regex/index.js';
