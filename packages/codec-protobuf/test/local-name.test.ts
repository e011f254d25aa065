import t from 'tap';
import * as path from 'node:path';
import { localName } from '../src/index.js';

// grpc-js names client methods with lodash.camelcase (through proto-loader); compare against it.
const protoLoaderDir = path.dirname(require.resolve('@grpc/proto-loader'));
// Resolved at run time from proto-loader's own dependencies: not a dependency of this package.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const camelCase = require(require.resolve('lodash.camelcase', { paths: [protoLoaderDir] })) as (name: string) => string;

t.test('localName matches lodash.camelcase on method-name shapes', async (t) => {
  const names = [
    'SayHello', 'Echo', 'Mutate', 'GetHTTPStatus', 'HTMLParser', 'getIDs', 'get_user_v2', 'Get_User', 'ListItems2Go',
    'HTTP2Ping', 'OAuth2Token', 'IPv6Route', 'ABC', 'X', 'A1B2', 'Do2', 'lowerCase', 'snake_case_name', 'already_lower',
  ];
  for (const name of names) t.equal(localName(name), camelCase(name), name);
});
