import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fuzz } from '../src/fuzz-run.js';
import { createInProcessTarget } from '../src/in-process-target.js';
import { announcedSettings, serverAnswers } from '../src/server-answers.js';
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
  t.ok((report.tally.streamStatuses[0] ?? 0) > 10, 'streams opened and ended OK');
  t.ok((report.tally.streamStatuses[3] ?? 0) > 100, 'bad stream frames (unknown stream, window overflow, half-close twice) got a per-stream INVALID_ARGUMENT');
});

/**
 * `<name>.expect.json` beside a saved input (optional; written by hand once the bug is understood):
 * for each input of the `.bin`, in order, the status code the server must answer on each stream.
 */
interface Expectation {
  readonly answers: Array<Record<string, number>>;
}

t.test('saved crash inputs replay without a violation and get the answers they should (regressions)', async (t) => {
  const dir = join(__dirname, '..', 'crashers');
  const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
  t.ok(files.length > 0, 'crashers/ holds at least one saved input');
  const target = await createInProcessTarget();
  t.teardown(() => target.close());
  const random = prng(1);
  for (const file of files) {
    const data = readFileSync(join(dir, file));
    const inputs: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += 4 + data.readUInt32BE(offset)) {
      inputs.push(data.subarray(offset + 4, offset + 4 + data.readUInt32BE(offset)));
    }
    const sockets = inputs.map((input) => target.run(input, random));
    t.equal(await target.settle(sockets), undefined, `${file} replays cleanly`);
    const expectFile = join(dir, file.replace(/\.bin$/, '.expect.json'));
    if (!existsSync(expectFile)) continue;
    const expectation = JSON.parse(readFileSync(expectFile, 'utf8')) as Expectation;
    t.equal(expectation.answers.length, inputs.length, `${file}: one expectation per input`);
    expectation.answers.forEach((expected, i) => {
      const answers = serverAnswers(sockets[i]!.written);
      const limit = announcedSettings(inputs[i]!).maxHeaderSize;
      const got = Object.fromEntries([...answers].map(([stream, answer]) => [String(stream), answer.code]));
      t.same(got, expected, `${file} input ${i}: each stream answered with its coded status`);
      for (const [stream, answer] of answers) {
        t.ok(answer.headerLength <= limit, `${file} input ${i} stream ${stream}: response header of ${answer.headerLength} bytes fits the client's maxHeaderSize ${limit}`);
      }
    });
  }
});
