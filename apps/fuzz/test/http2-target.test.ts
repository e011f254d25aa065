import t from 'tap';
import { h2 } from '@trellis/testkit';
import { GrpcFrameMutator } from '../src/http2/grpc-mutator.js';
import { runHttp2Target } from '../src/http2/http2-target.js';

// The short run of `pnpm fuzz`'s HTTP/2 target: one round of each attack and 40 mutated connections
// against a real RpcServer with a gRPC listener, a well-formed gRPC client calling alongside.
// TRELLIS_FUZZ_SEED replays a run.
const seed = Number(process.env.TRELLIS_FUZZ_SEED ?? Date.now() % 1_000_000);

t.test(`HTTP/2 target, short run (seed ${seed})`, async (t) => {
  const report = await runHttp2Target({ seed, mutatedConnections: 40, rstStreams: 2000, settingsFrames: 20_000 });
  for (const attack of report.attacks) t.comment(`${attack.attack}: ${attack.answer}`);
  t.comment(`mutated: ${report.mutated.refused} refused, ${report.mutated.survived} survived; good client ${report.goodCalls} calls; ${report.seconds.toFixed(1)} s`);
  t.same(report.failures, [], 'every attack got its protocol answer, the good client never failed, both listeners serve afterwards');
  t.same(report.attacks.map((a) => a.attack.split(':')[0]), [
    'malformed HEADERS', 'malformed HEADERS', 'a length prefix of 2 GiB (limit 64 KiB)', 'a compressed flag without grpc-encoding', 'RST_STREAM flood', 'SETTINGS flood',
    'random message bytes on 50 well-formed calls', 'random frames',
  ], 'each attack ran');
  t.match(report.attacks[2]!.answer, /^grpc-status 8 /, 'the oversized length prefix is RESOURCE_EXHAUSTED');
  t.match(report.attacks[3]!.answer, /^grpc-status 13 /, 'the compressed flag without an encoding is INTERNAL');
  t.equal(report.mutated.refused + report.mutated.survived, 40, 'every mutated connection was answered or refused (none hung)');
  t.ok(report.goodCalls > 0, `the well-formed client made ${report.goodCalls} calls during the attacks`);
  // Found by this target: node leaves a connection nghttp2 ended with a GOAWAY open (CLOSE-WAIT,
  // counted against maxConnections); the gRPC listener's keepalive PING reaps it.
  t.equal(report.leakedConnections, 0, 'no attack connection is left open on the server');
});

// The mutated-frames oracle depends on this: a PING sent after an input whose last frame is cut
// short (or whose length lies) would be swallowed as that frame's payload, and look like a hang.
t.test('inputs are completed to whole frames before the PING that checks them', async (t) => {
  const whole = Buffer.concat([h2.frame(0, 0, 1, Buffer.from('abc')), h2.frame(6, 0, 0, Buffer.alloc(8))]);
  t.equal(GrpcFrameMutator.completeFrames(whole), whole, 'whole frames are left as they are');
  const cut = whole.subarray(0, 20);
  const completed = GrpcFrameMutator.completeFrames(cut);
  t.equal(completed.length, whole.length, 'a frame cut short gets the zeros it is missing');
  t.equal(h2.parseFrames(completed).length, 2);
  t.equal(GrpcFrameMutator.completeFrames(whole.subarray(0, 5)).length, 12, 'a cut frame header is completed, then the 3 bytes its length says');
  const huge = Buffer.from(h2.frame(0, 0, 1, Buffer.from('abc')));
  huge.writeUIntBE(1 << 20, 0, 3);
  t.equal(GrpcFrameMutator.completeFrames(huge), huge, 'a length past the frame size limit is left: the server refuses it at once');
});
