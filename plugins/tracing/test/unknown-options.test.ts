import t from 'tap';
import { tracing } from '../src/index.js';

t.test('an unknown key fails at tracing() with ERR_INVALID_OPTION naming it, with a did-you-mean hint', (t) => {
  t.throws(() => tracing({ semConv: 'stable' } as never), { code: 'ERR_INVALID_OPTION', message: /tracing option "semConv".*did you mean "semconv"/ });
  t.end();
});
