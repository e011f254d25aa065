import { h2 } from '@trellis/testkit';
import t from 'tap';
import { startEngine } from './fixtures/engine.js';

// The listener's default report (no `onError`) is a process warning per problem. A peer that opens
// many connections and breaks each one must not be able to write one log line per connection: the
// default is rate-limited as the TCP listener's is (at most 10 per 10 s, the rest counted later).

const { frame, FrameType, RawHttp2Connection } = h2;

t.test('the default report: a flood of broken connections writes a bounded number of warnings', async (t) => {
  const { port } = await startEngine(t, {}, { onError: undefined });
  const warnings: string[] = [];
  const onWarning = (warning: Error) => { if (warning.name === 'TrellisGrpcWarning') warnings.push(warning.message); };
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });

  const connections = 60;
  for (let i = 0; i < connections; i++) {
    const raw = await RawHttp2Connection.open(port);
    // A PING on a stream: a connection error (GOAWAY PROTOCOL_ERROR), reported once per connection.
    raw.write(frame(FrameType.PING, 0, 1, Buffer.alloc(8)));
    const { closed } = await raw.until(() => false, 10_000, `connection ${i} closed by the server after its GOAWAY`);
    raw.destroy();
    t.ok(closed, `connection ${i} was closed by the server`);
  }
  // 'warning' is emitted on the next tick after process.emitWarning.
  await new Promise((resolve) => setImmediate(resolve));

  t.ok(warnings.length >= 1, 'the first problems are reported');
  t.match(warnings[0], /HTTP\/2 protocol error: .*PING.*\(peer 127\.0\.0\.1:\d+\)/, 'naming the problem and the peer');
  // 10 a window; three windows of slack for a slow machine — without the limit there is one per connection.
  t.ok(warnings.length <= 30, `${warnings.length} warnings for ${connections} broken connections (at most 10 per 10 s)`);
});
