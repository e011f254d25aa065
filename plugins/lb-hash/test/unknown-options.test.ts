import t from 'tap';
import { consistentHash } from '../src/index.js';

t.test('an unknown key fails with ERR_INVALID_OPTION naming it, with a did-you-mean hint', (t) => {
  t.throws(() => consistentHash({ header: 'x-user', virtualNode: 100 } as never), {
    code: 'ERR_INVALID_OPTION', message: /lb-hash option "virtualNode".*did you mean "virtualNodes"/,
  });
  t.throws(() => consistentHash({ header: 'x-user', boundedLoad: { epsilom: 0.5 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"boundedLoad\.epsilom".*did you mean "epsilon"/,
  });
  t.doesNotThrow(() => consistentHash({ header: 'x-user', virtualNodes: 100, boundedLoad: { epsilon: 0.5 }, register: 'named-only' }));
  t.end();
});
