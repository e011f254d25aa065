import t from 'tap';
import { zookeeperRegistry } from '../src/index.js';

// No server needed: the options are checked at construction.
t.test('an unknown key fails at construction with ERR_INVALID_OPTION naming it, with a did-you-mean hint', async (t) => {
  t.throws(() => zookeeperRegistry({ connectString: '127.0.0.1:2181', sessionTimeoutMS: 5000 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"sessionTimeoutMS".*did you mean "sessionTimeoutMs"/,
  });
  t.throws(() => zookeeperRegistry({ connectString: '127.0.0.1:2181', backoff: { jiter: 0.1 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"backoff\.jiter".*did you mean "jitter"/,
  });
});
