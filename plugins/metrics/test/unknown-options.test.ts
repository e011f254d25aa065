import t from 'tap';
import { Registry } from 'prom-client';
import { metrics, serveMetrics } from '../src/index.js';

t.test('serveMetrics refuses an unknown key with ERR_INVALID_OPTION and a did-you-mean hint', (t) => {
  t.throws(() => serveMetrics(new Registry(), { port: 0, pth: '/m' } as never), {
    code: 'ERR_INVALID_OPTION', message: /serveMetrics option "pth".*did you mean "path"/,
  });
  t.throws(() => serveMetrics(new Registry(), { prt: 0 } as never), { code: 'ERR_INVALID_OPTION', message: /"port"/ });
  t.end();
});

t.test('metrics() refuses an unknown key too (it always did: kept as a guard)', (t) => {
  t.throws(() => metrics({ prefx: 'app_' } as never), { code: 'ERR_INVALID_OPTION', message: /metrics option "prefx".*did you mean "prefix"/ });
  t.end();
});
