/**
 * Only a diag logger registered: the OpenTelemetry API's globals object then exists, so the plugin's
 * one-load "nothing registered" check says no and its precise checks decide — they must still find
 * no SDK and no context manager (no trace, no header), and an SDK registered later must trace the
 * next call. Its own file: it sets process-wide OpenTelemetry state.
 */
import { diag, DiagLogLevel } from '@opentelemetry/api';
import t from 'tap';
import { untracedThenLateSdk } from './fixtures/late-sdk.js';

t.test('with only a diag logger registered calls carry no trace; an SDK registered later traces the next call', async (t) => {
  const logged: string[] = [];
  const record = (message: string): void => {
    logged.push(message);
  };
  t.ok(diag.setLogger({ error: record, warn: record, info: record, debug: record, verbose: record }, DiagLogLevel.WARN));
  t.teardown(() => diag.disable());
  await untracedThenLateSdk(t);
  t.same(logged, [], 'the API logged no warning or error');
});
