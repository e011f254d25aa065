import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fuzz } from '../src/fuzz-run.js';
import { createInProcessTarget } from '../src/in-process-target.js';
import { seededRandom as prng } from '@trellis/testkit';

t.test('a short fuzz run finds nothing and exercises every answer kind', async (t) => {
  const report = await fuzz({ seed: 20261127, iterations: 30_000, socketIterations: 300 });
  t.same(report.failures, []);
  t.ok(report.tally.responses > 1000, `${report.tally.responses} requests were answered`);
  t.ok(report.tally.errors[0]! > 100, 'some requests reached the handler and succeeded');
  t.ok(report.tally.errors[3]! > 10, 'malformed bodies were answered INVALID_ARGUMENT');
  t.ok(report.tally.errors[12]! > 10, 'unknown methods were answered UNIMPLEMENTED');
  t.ok(report.tally.errors[8]! > 10, 'frames over the limits were refused for their call alone (RESOURCE_EXHAUSTED)');
  t.ok(report.tally.goaways > 1000, 'protocol violations closed their connections with a GOAWAY');
  t.ok(report.goodClientCalls > 0, 'the well-formed client was answered throughout');
});

t.test('saved crash inputs replay without a violation (regressions)', async (t) => {
  const dir = join(__dirname, '..', 'crashers');
  const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
  const target = await createInProcessTarget();
  t.teardown(() => target.close());
  const random = prng(1);
  for (const file of files) {
    const data = readFileSync(join(dir, file));
    const sockets = [];
    for (let offset = 0; offset < data.length;) {
      const length = data.readUInt32BE(offset);
      sockets.push(target.run(data.subarray(offset + 4, offset + 4 + length), random));
      offset += 4 + length;
    }
    t.equal(await target.settle(sockets), undefined, `${file} replays cleanly`);
  }
  t.pass(`${files.length} saved inputs replayed`);
});
