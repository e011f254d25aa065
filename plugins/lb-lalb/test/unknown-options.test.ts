import t from 'tap';
import { LocalityAwareBalancer, lalb } from '../src/index.js';

// The README says invalid options throw; a misspelt key was ignored in silence (the default stayed).
t.test('an unknown key fails with ERR_INVALID_OPTION naming it, with a did-you-mean hint', (t) => {
  t.throws(() => lalb({ windowSise: 32 } as never), { code: 'ERR_INVALID_OPTION', message: /lalb option "windowSise".*did you mean "windowSize"/ });
  t.throws(() => new LocalityAwareBalancer({ minWieght: 2 } as never), { code: 'ERR_INVALID_OPTION', message: /"minWieght".*did you mean "minWeight"/ });
  t.doesNotThrow(() => lalb({ windowSize: 32, register: 'named-only', onBalancer: () => undefined }), 'plugin keys stay accepted');
  t.end();
});
