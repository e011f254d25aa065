import t from 'tap';
import { P2cBalancer, p2c } from '../src/index.js';

t.test('an unknown key fails with ERR_INVALID_OPTION naming it, with a did-you-mean hint', (t) => {
  t.throws(() => p2c({ decayMS: 5000 } as never), { code: 'ERR_INVALID_OPTION', message: /lb-p2c option "decayMS".*did you mean "decayMs"/ });
  t.throws(() => new P2cBalancer({ randm: Math.random } as never), { code: 'ERR_INVALID_OPTION', message: /"randm".*did you mean "random"/ });
  t.doesNotThrow(() => p2c({ decayMs: 5000, register: 'named-only' }), 'plugin keys stay accepted');
  t.end();
});
