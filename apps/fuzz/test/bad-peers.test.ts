import t, { type Test } from 'tap';
import { badPeerPlan } from '../src/bad-peers/index.js';
import { largeFrames } from '../src/bad-peers/large-frames.js';
import { nonReadingPeer } from '../src/bad-peers/non-reading.js';
import { oversizeBothWays } from '../src/bad-peers/oversize.js';
import { pingFlood } from '../src/bad-peers/ping-flood.js';
import type { BadPeerResult } from '../src/bad-peers/result.js';
import { slowSenders } from '../src/bad-peers/slow-senders.js';

// The short plan of `pnpm fuzz`'s bad-peer targets: each one's promises (other callers unaffected,
// memory under its ceiling, the attacker told why) must hold. Figures go to the test's comments.
const plan = badPeerPlan(true);

const check = (t: Test, result: BadPeerResult) => {
  for (const line of result.lines) t.comment(line);
  t.same(result.failures, [], `${result.attack}: every promise held`);
};

t.test('oversized headers and bodies in both directions, other calls in flight', async (t) => check(t, await oversizeBothWays(plan.oversizeRounds)));
t.test('a non-reading peer: provider RSS under its ceiling', async (t) => check(t, await nonReadingPeer(plan.nonReading)));
t.test('slow senders: held partial frames capped, dribblers closed', async (t) => check(t, await slowSenders(plan.slow)));
t.test('PING floods', async (t) => check(t, await pingFlood(plan.flood)));
t.test('large frames in small chunks: each byte copied once', async (t) => check(t, await largeFrames(plan.frames.sizesMiB, plan.frames.socketMiB)));
