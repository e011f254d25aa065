import t from 'tap';
import * as path from 'node:path';
import { ErrorCodes } from '@trellis/core';
import { loadProto, loadProtoAsync } from '../src/index.js';

const RICH = path.join(__dirname, 'fixtures', 'rich.proto');

// `keepcase: true` used to be ignored in silence: the field names quietly stayed camelCase.
t.test('an unknown load option is refused with ERR_INVALID_OPTION naming it, with a did-you-mean hint', async (t) => {
  t.throws(() => loadProto(RICH, { keepcase: true } as never), {
    code: ErrorCodes.INVALID_OPTION, message: /"keepcase".*did you mean "keepCase"/,
  });
  await t.rejects(loadProtoAsync(RICH, { include: [] } as never), { code: ErrorCodes.INVALID_OPTION, message: /"include"/ });
  t.doesNotThrow(() => loadProto(RICH, { keepCase: true, longs: undefined, json: false }));
});
