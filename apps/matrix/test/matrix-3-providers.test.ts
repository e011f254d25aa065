import t from 'tap';
import { checkMatrix } from './fixtures/matrix-check.js';

// The combination matrix with three providers, one of them faulty (issue #16). `pnpm matrix --long`
// runs the full-size version; docs/reliability.md has the table.
t.test('balancers × plugin sets × faults, 3 providers', (t) => checkMatrix(t, 3));
