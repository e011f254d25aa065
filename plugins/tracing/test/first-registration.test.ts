/**
 * How the client observer wakes from dormancy (otel-presence.ts `onFirstRegistration`): the first
 * OpenTelemetry registration of the process, of any kind, calls the waiting callbacks once, and the
 * API works as without the watch. The end-to-end half — a client with nothing registered traces the
 * next call once an SDK is registered — is no-sdk.test.ts and diag-only.test.ts. Its own file: it
 * sets process-wide OpenTelemetry state.
 */
import { diag, DiagLogLevel, propagation } from '@opentelemetry/api';
import t from 'tap';
import { w3cPropagator } from '../src/index.js';
import { nothingRegistered, onFirstRegistration } from '../src/otel-presence.js';

const API_GLOBALS = Symbol.for('opentelemetry.js.api.1');

t.test('the first registration calls the waiting callbacks once; cancelled ones are not called', (t) => {
  t.ok(nothingRegistered(), 'a fresh process: nothing registered');
  const calls: string[] = [];
  const cancelA = onFirstRegistration(() => calls.push('a'));
  const cancelB = onFirstRegistration(() => calls.push('b'));
  t.type(cancelA, 'function', 'watching');
  t.type(cancelB, 'function');
  t.equal((globalThis as Record<symbol, unknown>)[API_GLOBALS], undefined, 'the key still reads as missing');
  t.ok(nothingRegistered(), 'and nothing counts as registered');
  cancelB!();

  const messages: string[] = [];
  const logger = { error: (m: string) => messages.push(m), warn: () => undefined, info: () => undefined, debug: () => undefined, verbose: () => undefined };
  t.ok(diag.setLogger(logger, DiagLogLevel.ERROR), 'the registration succeeds');
  t.teardown(() => diag.disable());
  t.same(calls, ['a'], 'called once, at the registration; the cancelled one not');
  const globals = (globalThis as Record<symbol, { diag?: unknown } | undefined>)[API_GLOBALS];
  t.type(globals?.diag, 'object', 'the globals object is in place, with the registration in it');
  t.ok(nothingRegistered(), 'a diag logger is nothing tracing reads');
  t.ok(propagation.setGlobalPropagator(w3cPropagator), 'later registrations work as usual');
  t.teardown(() => propagation.disable());
  t.same(propagation.fields(), w3cPropagator.fields(), 'the registered propagator is the one in force');
  t.same(calls, ['a'], 'no second call');
  t.equal(onFirstRegistration(() => calls.push('late')), undefined, 'nothing to watch once the object exists');
  diag.error('through the registered logger');
  t.same(messages, ['through the registered logger']);
  t.end();
});
