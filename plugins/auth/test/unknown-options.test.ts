import t from 'tap';
import { clientAuth, serverAuth, sharedTokens } from '../src/index.js';

// A misspelt key ignored would leave a method locked (allowUnauthenticated) or a credential in the
// wrong header: both factories refuse keys they do not know.
const verifier = sharedTokens({ 'reader-token-0123456789': { id: 'reader', roles: ['read'] } });

t.test('serverAuth refuses an unknown key with ERR_INVALID_OPTION and a did-you-mean hint', (t) => {
  t.throws(() => serverAuth({ verifier, allowUnauthenticted: ['Health/Check'] } as never), {
    code: 'ERR_INVALID_OPTION', message: /auth option "allowUnauthenticted".*did you mean "allowUnauthenticated"/,
  });
  t.throws(() => serverAuth({ verifier, rules: { '*': 'read' } } as never), { code: 'ERR_INVALID_OPTION', message: /rules/ });
  t.doesNotThrow(() => serverAuth({ verifier, rules: { '*': ['read'] }, allowUnauthenticated: ['Health/Check'], header: 'authorization' }));
  t.end();
});

t.test('clientAuth refuses an unknown key with ERR_INVALID_OPTION and a did-you-mean hint', (t) => {
  t.throws(() => clientAuth({ credential: 'reader-token-0123456789', headr: 'x-token' } as never), {
    code: 'ERR_INVALID_OPTION', message: /auth option "headr".*did you mean "header"/,
  });
  t.end();
});
