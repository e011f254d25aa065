import t from 'tap';
import { etcdRegistry } from '../src/index.js';

// No server needed: the options are checked at construction.
t.test('an unknown key fails at construction with ERR_INVALID_OPTION naming it, with a did-you-mean hint', async (t) => {
  t.throws(() => etcdRegistry({ endpoints: 'http://127.0.0.1:2379', ttlSecond: 5 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"ttlSecond".*did you mean "ttlSeconds"/,
  });
  t.throws(() => etcdRegistry({ endpoints: 'http://127.0.0.1:2379', backoff: { maxMS: 5000 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"backoff\.maxMS".*did you mean "maxMs"/,
  });
});
