export { LinearRegex, MAX_STATES } from './matcher.js';
export { RegexSyntaxError, MAX_REPEAT } from './parse.js';
