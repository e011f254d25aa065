// Word boundaries as lodash.camelCase (used by proto-loader and grpc-js) sees them for ASCII names:
// an acronym before a capitalised word, a capitalised or lower-case word, an acronym, digits.
const WORDS = /[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+/g;

/**
 * The lowerCamel name of a .proto method (`SayHello` → `sayHello`, `GetHTTPStatus` →
 * `getHttpStatus`): the same name grpc-js gives the method on its clients, so code moving between
 * the two keeps its method names.
 */
export function localName(protoName: string): string {
  const words = protoName.match(WORDS) ?? [];
  let result = '';
  for (const [index, word] of words.entries()) {
    const lower = word.toLowerCase();
    result += index === 0 ? lower : lower.charAt(0).toUpperCase() + lower.slice(1);
  }
  return result;
}
