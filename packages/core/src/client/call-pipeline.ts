import { NOOP_DONE, type LoadBalancer, type Pick } from '../balancer/load-balancer.js';
import type { Clock } from '../clock.js';
import type { Endpoint } from '../endpoint.js';
import { Code, RpcError } from '../errors.js';
import type { HealthView } from '../health.js';
import { metadataOf, withInvocation, type EndpointInvoker, type Invocation, type Invoker, type Result } from '../invocation.js';
import type { Router } from '../router.js';
import { formatServiceKey, type ServiceKey } from '../service-key.js';
import type { ClientTransport, OutboundRequest, ResponseSink } from '../transport.js';
import type { RetryPolicy } from '../retry-policy.js';
import { AttemptRecord, type AttemptOwner } from './attempt-record.js';
import { afterPause, awaitGates, runGates, type GateHold } from './call-hooks.js';
import { CallContext, Observers } from './call-state.js';
import type { Directory } from './directory.js';
import { StreamCaller } from './stream-call.js';
import { isStreamKind } from '../definition.js';

/** What the pipeline needs of its client, fixed at construction. */
export interface PipelineSettings {
  readonly service: ServiceKey;
  readonly clock: Clock;
  readonly transport: ClientTransport;
  readonly directory: Directory;
  readonly observers: Observers;
  readonly registryName: string;
  readonly transparentRetries: number;
  readonly health: () => HealthView;
  /**
   * The transport's clock is this client's (a native transport the client built on its clock): a
   * transport's `arrivedAt` reading may then stand for the attempt's end (ResponseSink), and the
   * send's reading goes with the request (`OutboundRequest.sentAt`) for the transport's deadline
   * timer. Else the pipeline and the transport each read their own clock.
   */
  readonly transportOnClientClock: boolean;
}

/**
 * What the client's start-up decides: the chains (undefined: no interceptor), routers and balancer.
 * With a unary chain, the gates and the retry policy are layers of it; without one, the pipeline
 * runs them itself (the call's active gates, `HookLists.gates`, and `retryPolicy`).
 */
export interface PipelineShape {
  readonly chain: Invoker | undefined;
  /** Stream calls' chain (interceptors for all calls and for streams, gates as layers). */
  readonly streamChain: Invoker | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly endpointChain: EndpointInvoker | undefined;
  /** The active routers, by order (the client's health filter and the plugins' active ones). */
  readonly routers: readonly Router[];
  readonly balancer: LoadBalancer;
}

// The resolvers of the promise being created (a shared executor: no closure per promise).
let nextResolve: ((value: any) => void) | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
let nextReject: ((error: unknown) => void) | undefined;
const capture = (resolve: (value: any) => void, reject: (error: unknown) => void): void => { // eslint-disable-line @typescript-eslint/no-explicit-any
  nextResolve = resolve;
  nextReject = reject;
};

/**
 * One client's call path, from a validated invocation to the caller's answer: observers' callStart →
 * cluster interceptors → routers → balancer → attemptStart → endpoint interceptors → codec +
 * transport → attemptEnd, `Pick.done` → transparent re-send → callEnd.
 *
 * Without interceptors — the default, and every built-in plugin on unary calls (retry is a
 * `RetryPolicy`, the method breaker and a fixed credential are gates) — a call is completion
 * callbacks from the transport up to the caller's promise: the one promise of the call is the one the
 * caller gets; gates run before the attempts, the retry policy decides in the failure path
 * (`callAttemptFailed`). An interceptor chain needs a promise per layer; its bottom (`invokeCluster`)
 * then costs one more, and the gates and the retry policy become layers of it, at their orders. Transparent re-sends (a request that provably
 * never ran, sent to another endpoint) happen inside one attempt, synchronously with the failure.
 */
export class CallPipeline implements AttemptOwner {
  private shape: PipelineShape | undefined;
  /** The attempt being handed to the endpoint chain right now: its bottom fills in the bytes. */
  private sending: AttemptRecord | undefined;
  /** Stream calls (issue #18) branch off at the bottom of the cluster and endpoint chains. */
  private readonly streams: StreamCaller;

  constructor(private readonly settings: PipelineSettings) {
    this.streams = new StreamCaller({
      service: settings.service,
      clock: settings.clock,
      transport: settings.transport,
      observers: settings.observers,
      transparentRetries: settings.transparentRetries,
      select: (invocation) => this.select(invocation),
      endpointChain: () => this.shape!.endpointChain,
      callEnded: (call, error, endpoint) => this.callEnded(call, error, endpoint),
    });
  }

  /**
   * Each router's `route`, read once here: `select` calls these with the router as `this`, so a call
   * does not look `route` up on each router's own class (one property load that sees a different
   * class per router, on every attempt).
   */
  private routes: readonly Router['route'][] = [];
  private routers: readonly Router[] = [];

  configure(shape: PipelineShape): void {
    this.shape = shape;
    this.setRouters(shape.routers);
  }

  /**
   * The routers from the next routing on: a router was switched on or off (`setHookActive`). Before
   * `configure` the client's start reads the switches itself, so this waits for it.
   */
  setRouters(routers: readonly Router[]): void {
    if (this.shape === undefined) return;
    // Router and route replaced together: `select` reads both arrays in one synchronous pass.
    this.routers = routers;
    this.routes = routers.map((router) => router.route);
  }

  /**
   * Runs a validated call; `withResult`: resolve with a Result, else with the response message.
   * `late`: the call waited for the client to start, so its start time is stale.
   */
  run(invocation: Invocation, withResult: boolean, late = false): Promise<unknown> {
    const { observers } = this.settings;
    const context = invocation.context as CallContext;
    context.invocation = invocation;
    const hooks = (context.hooks = observers.current);
    if (hooks.watchesCalls) observers.callStart(invocation, context);
    const shape = this.shape!;
    const chain = shape.chain;
    if (chain === undefined) {
      const promise = new Promise(capture);
      context.resolve = nextResolve;
      context.reject = nextReject;
      context.withResult = withResult;
      const now = late ? this.settings.clock.now() : context.startedAt;
      const retryPolicy = shape.retryPolicy;
      // The gates active when the call started (dormant ones are not in the list): the call keeps them.
      const perCall = hooks.gates.perCall;
      let hold: GateHold | undefined;
      try {
        if (perCall.length !== 0) hold = runGates(perCall, invocation);
        if (hold === undefined && retryPolicy !== undefined) context.retry = retryPolicy.startCall(invocation, now);
      } catch (thrown) {
        this.settleFailed(context, RpcError.from(thrown));
        return promise;
      }
      if (hold !== undefined) {
        // A gate made the call wait: the retry policy and the first attempt start once it admits.
        awaitGates(perCall, invocation, hold, this.settings.clock, (error) => this.callGatesPassed(context, error));
        return promise;
      }
      this.startCallAttempt(context, context.retry === undefined ? invocation : retryPolicy!.attempt(context.retry), now);
      return promise;
    }
    let pending: Promise<Result>;
    try {
      pending = chain(invocation);
    } catch (error) {
      pending = Promise.reject(error); // an interceptor that throws instead of rejecting
    }
    if (!hooks.watchesCalls) return withResult ? pending : pending.then(responseOf);
    return pending.then(
      (result) => {
        this.callEnded(context, undefined, result.endpoint);
        return withResult ? result : result.response;
      },
      (thrown: unknown) => {
        const error = RpcError.from(thrown);
        this.callEnded(context, error, error.endpoint);
        throw thrown;
      },
    );
  }

  /**
   * Runs a validated stream call; resolves at set-up with the Result whose `response` is the
   * ResponseStream. `callEnd` comes when the stream is over (or here, when it never set up).
   */
  runStream(invocation: Invocation): Promise<Result> {
    const { observers } = this.settings;
    const context = invocation.context as CallContext;
    context.invocation = invocation;
    const hooks = (context.hooks = observers.current);
    if (hooks.watchesCalls) observers.callStart(invocation, context);
    const chain = this.shape!.streamChain ?? this.invokeCluster;
    let pending: Promise<Result>;
    try {
      pending = chain(invocation);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (result) => {
        // An interceptor answered without a stream below (a cache, a fake): the call is over.
        if (context.setUpStream === undefined && !context.streamEnded) this.streamEnded(context, undefined, result.endpoint);
        return result;
      },
      (thrown: unknown) => {
        const error = RpcError.from(thrown);
        // An interceptor failed the call after a stream below it was set up: that stream goes.
        context.setUpStream?.cancel(`the call failed in an interceptor: ${error.message}`);
        context.pump?.stop();
        if (!context.streamEnded) this.streamEnded(context, error, error.endpoint);
        throw thrown;
      },
    );
  }

  private streamEnded(context: CallContext, error: RpcError | undefined, endpoint: Endpoint | undefined): void {
    context.streamEnded = true;
    context.stream = { setUp: false, setUpMs: 0, messagesSent: 0, messagesReceived: 0 };
    if (context.hooks!.watchesCalls) this.callEnded(context, error, endpoint);
  }

  /** The bottom of the cluster chain: one attempt (with its transparent re-sends) as a promise. */
  readonly invokeCluster = (invocation: Invocation): Promise<Result> => {
    if (isStreamKind(invocation.method.kind)) return this.streams.invoke(invocation);
    const promise = new Promise<Result>(capture);
    const resolve = nextResolve!;
    const reject = nextReject!;
    const record = this.pickAttempt(invocation, this.settings.clock.now(), undefined, reject);
    if (record !== undefined) {
      record.resolveResult = resolve;
      record.rejectResult = reject;
      this.sendAttempt(record);
    }
    return promise;
  };

  /**
   * Routes and picks; throws UNAVAILABLE (never ran) with the reason when nothing is usable. `now`:
   * the attempt's start reading, handed to the balancer.
   */
  select(invocation: Invocation, now?: number): Pick {
    const known = this.settings.directory.endpoints;
    const balancer = this.shape!.balancer;
    const routers = this.routers;
    const routes = this.routes;
    let list = known;
    for (let i = 0; i < routes.length; i++) {
      const next = routes[i]!.call(routers[i], list, invocation);
      if (next.length === 0 && list.length > 0) return this.unavailable(known, invocation, routers[i], list);
      list = next;
    }
    const pick = list.length === 0 ? undefined : balancer.pick(list, invocation, now);
    if (pick !== undefined) return pick;
    return this.unavailable(known, invocation, undefined, list);
  }

  /**
   * An attempt of a call the pipeline runs itself (no unary chain): the per-attempt gates, then
   * routing and the send. Its outcome settles the caller's promise, or goes to the retry policy.
   */
  private startCallAttempt(call: CallContext, invocation: Invocation, now: number): void {
    const perAttempt = call.hooks!.gates.perAttempt;
    if (perAttempt.length !== 0) {
      let hold: GateHold | undefined;
      try {
        hold = runGates(perAttempt, invocation);
      } catch (thrown) {
        return this.callAttemptFailed(call, RpcError.from(thrown));
      }
      if (hold !== undefined) {
        const { clock } = this.settings;
        return awaitGates(perAttempt, invocation, hold, clock, (error) => {
          if (error !== undefined) this.callAttemptFailed(call, error);
          else this.sendCallAttempt(call, invocation, clock.now());
        });
      }
    }
    this.sendCallAttempt(call, invocation, now);
  }

  /**
   * A call held by a gate before retry was admitted (`error` undefined) or refused: the retry
   * policy's start and the first attempt, at a fresh clock reading, or the call's failure.
   */
  private callGatesPassed(call: CallContext, error: RpcError | undefined): void {
    if (error !== undefined) return this.settleFailed(call, error);
    const now = this.settings.clock.now();
    const retryPolicy = this.shape!.retryPolicy;
    try {
      if (retryPolicy !== undefined) call.retry = retryPolicy.startCall(call.invocation, now);
    } catch (thrown) {
      return this.settleFailed(call, RpcError.from(thrown));
    }
    this.startCallAttempt(call, call.retry === undefined ? call.invocation : retryPolicy!.attempt(call.retry), now);
  }

  /** An attempt the gates admitted: routing, the balancer and the send. */
  private sendCallAttempt(call: CallContext, invocation: Invocation, now: number): void {
    const record = this.pickAttempt(invocation, now, call, undefined);
    if (record === undefined) return;
    record.call = call;
    this.sendAttempt(record);
  }

  /**
   * An attempt of a call the pipeline runs itself failed (or was refused before a send): the retry
   * policy decides whether another follows, and after what pause; else the call fails.
   */
  private callAttemptFailed(call: CallContext, error: RpcError): void {
    const state = call.retry;
    if (state === undefined) return this.settleFailed(call, error);
    const policy = this.shape!.retryPolicy!;
    let pause: number;
    try {
      pause = policy.failed(state, error, this.settings.clock.now());
    } catch (thrown) {
      return this.settleFailed(call, RpcError.from(thrown));
    }
    afterPause(pause, call.invocation.signal, (cancelled) => {
      const now = this.settings.clock.now();
      try {
        policy.resume(state, now, cancelled);
      } catch (thrown) {
        return this.settleFailed(call, RpcError.from(thrown));
      }
      this.startCallAttempt(call, policy.attempt(state), now);
    });
  }

  /** The record of a new attempt, or undefined when routing refused it (the refusal is delivered). */
  private pickAttempt(invocation: Invocation, now: number, call: CallContext | undefined, reject: ((error: unknown) => void) | undefined): AttemptRecord | undefined {
    let pick: Pick;
    try {
      pick = this.select(invocation, now);
    } catch (thrown) {
      // Nothing was picked: no attempt to report, no endpoint to blame.
      if (call !== undefined) this.callAttemptFailed(call, RpcError.from(thrown));
      else reject!(thrown);
      return undefined;
    }
    // A call the pipeline runs itself has its hooks at hand; else they are found from the invocation.
    const hooks = call !== undefined ? call.hooks! : this.settings.observers.of(invocation);
    return new AttemptRecord(this, invocation, pick, pick.endpoint, now, hooks);
  }

  /** attemptStart, then the endpoint chain or straight to the codec and transport. */
  private sendAttempt(record: AttemptRecord): void {
    const { observers } = this.settings;
    if (record.hooks.watchesAttempts) observers.attemptStart(record.hooks, record);
    const endpointChain = this.shape!.endpointChain;
    // Straight to the transport: the attempt's start time was read in this same synchronous flow (a
    // new call, `invokeCluster`, or a re-send), so it is the send time too — one clock read less.
    if (endpointChain === undefined) return this.transmit(record.invocation, record.endpoint, record, record, record.startedAt);
    let pending: Promise<Result>;
    this.sending = record;
    try {
      pending = endpointChain(record.invocation, record.endpoint);
    } catch (error) {
      pending = Promise.reject(error);
    } finally {
      this.sending = undefined;
    }
    pending.then(
      (result) => this.succeeded(record, result.response, result.metadata),
      (thrown: unknown) => this.failed(record, RpcError.from(thrown)),
    );
  }

  /** The bottom of the endpoint chain (only when there are endpoint interceptors). */
  readonly endpointBottom = (invocation: Invocation, endpoint: Endpoint): Promise<Result> => {
    if (isStreamKind(invocation.method.kind)) return this.streams.open(invocation, endpoint);
    // The record of this send, when the chain called down synchronously (interceptors usually do);
    // one that sends later leaves the byte counts at 0.
    const record = this.sending?.endpoint === endpoint ? this.sending : undefined;
    const promise = new Promise<Result>(capture);
    const sink = new ChainSink(invocation, endpoint, record, nextResolve!, nextReject!);
    this.transmit(invocation, endpoint, sink, record, undefined);
    return promise;
  };

  /**
   * Encodes and hands the request to the transport; the outcome comes back to `sink`. Never throws:
   * anything that goes wrong before the request leaves is delivered to the sink as never-ran.
   */
  private transmit(invocation: Invocation, endpoint: Endpoint, sink: ResponseSink, record: AttemptRecord | undefined, sentAt: number | undefined): void {
    const { clock, transport, service } = this.settings;
    // `sentAt`: a clock reading of this turn the caller already has. Else the call's first send, in
    // the same turn as its start, reuses its clock reading.
    const now = sentAt !== undefined
      ? sentAt
      : record !== undefined && record.send === 1 && record.startedAt === (invocation.context as CallContext).startedAt
        ? record.startedAt
        : clock.now();
    const remaining = invocation.deadline - now;
    if (remaining <= 0) {
      return sink.onError(new RpcError(Code.DEADLINE_EXCEEDED, `deadline exceeded before the call to ${endpoint.id} was sent`, { mayHaveRun: false }));
    }
    const method = invocation.method;
    // The attempt record is the request (one object less), and its body is encoded in place by the
    // transport when the codec can (AttemptRecord.encodeBody); a send through endpoint interceptors,
    // which may change the invocation, gets its own request, with bytes.
    const direct = sink === record;
    const request: Writable<OutboundRequest> = direct ? record : ({} as Writable<OutboundRequest>);
    let bodyLength: number;
    try {
      if (direct) {
        bodyLength = record.encodeBody(method.requestCodec, invocation.request);
      } else {
        const body = method.requestCodec.encode(invocation.request);
        request.body = body;
        bodyLength = body.length;
      }
    } catch (error) {
      return sink.onError(new RpcError(Code.INVALID_ARGUMENT, `request for ${method.service}/${method.name} could not be encoded: ${(error as Error).message}`, { mayHaveRun: false }));
    }
    request.group = service.group;
    request.service = service.name;
    request.version = endpoint.version === '*' ? '' : endpoint.version;
    request.method = method.name;
    request.metadata = metadataOf(invocation); // (the client's shared fixed map when the call has none: no Map per call)
    request.timeoutMs = Math.ceil(remaining);
    // The transport's deadline timer measures from this reading when its clock is the client's.
    request.sentAt = this.settings.transportOnClientClock ? now : undefined;
    request.attempt = invocation.attempt;
    request.signal = invocation.signal;
    if (record !== undefined) record.bytesSent = bodyLength;
    try {
      if (transport.send !== undefined) {
        transport.send(endpoint, request, sink);
      } else {
        transport.call(endpoint, request).then(
          (response) => sink.onResponse(response.body, response.metadata),
          (error: unknown) => sink.onError(RpcError.from(error)),
        );
      }
    } catch (error) {
      sink.onError(RpcError.from(error));
    }
  }

  /** A send's answer arrived (AttemptOwner): decode it, report, settle. */
  answered(record: AttemptRecord, body: Uint8Array, metadata: ReadonlyMap<string, string>, arrivedAt: (() => number) | undefined): void {
    let message: unknown;
    try {
      message = decodeResponse(record.invocation, record.endpoint, body);
    } catch (error) {
      return this.failed(record, error as RpcError);
    }
    record.bytesReceived = body.length;
    this.succeeded(record, message, metadata, this.settings.transportOnClientClock ? arrivedAt : undefined);
  }

  /** `arrivedAt`: the transport's reading for the read that brought the answer, on this client's clock. */
  private succeeded(record: AttemptRecord, response: unknown, metadata: ReadonlyMap<string, string>, arrivedAt?: () => number): void {
    const { observers, clock } = this.settings;
    const pick = record.pick;
    // One clock reading for the attempt's latency and, on a direct call, the call's: the read's, shared
    // with the other answers it brought, when the transport has one on this client's clock.
    const call = record.call;
    const hooks = record.hooks;
    let now: number | undefined;
    if (pick.done !== NOOP_DONE || hooks.watchesAttempts || call?.retry !== undefined) {
      record.endReading = now = arrivedAt !== undefined ? arrivedAt() : clock.now();
    }
    if (hooks.watchesAttempts) observers.attemptEnd(hooks, record);
    pick.done(record);
    const endpoint = record.endpoint;
    if (call === undefined) return record.resolveResult!({ response, metadata, endpoint });
    if (call.retry !== undefined) {
      try {
        this.shape!.retryPolicy!.succeeded(call.retry, now!);
      } catch {
        // The attempt answered: a policy's bookkeeping error must not change what the caller gets.
      }
    }
    if (call.hooks!.watchesCalls) this.callEnded(call, undefined, endpoint, now ?? arrivedAt?.());
    call.resolve!(call.withResult ? { response, metadata, endpoint } : response);
  }

  /** A send failed (AttemptOwner): report it, then re-send it transparently or settle with the error. */
  failed(record: AttemptRecord, error: RpcError): void {
    const { observers, clock, transparentRetries } = this.settings;
    const now = clock.now();
    record.failWith(error, now);
    if (record.hooks.watchesAttempts) observers.attemptEnd(record.hooks, record);
    record.pick.done(record);
    const inv = record.invocation;
    if (record.mayResend(error, now, transparentRetries)) {
      const excluded = new Set(inv.excluded);
      excluded.add(record.endpoint.id);
      let next = withInvocation(inv, { excluded });
      let pick: Pick;
      try {
        pick = this.select(next, now);
      } catch (thrown) {
        // No other endpoint: the same one, on another of its connections, while some of them still
        // serve (a dropped connection, not an unreachable address). One address may be many
        // processes — a worker group whose killed worker took this connection down.
        try {
          if (this.settings.transport.state(record.endpoint) !== 'ready') throw thrown;
          pick = this.select((next = inv), now);
        } catch {
          // Nowhere left: not this endpoint's error, but the cause the caller can act on (a refused
          // dial, a peer that is not a Trellis server) is what this attempt met: say it too.
          return this.settle(record, withLastAttempt(RpcError.from(thrown), record.endpoint, error));
        }
      }
      record.resend(next, pick, now);
      return this.sendAttempt(record);
    }
    this.settle(record, error);
  }

  private settle(record: AttemptRecord, error: RpcError): void {
    const call = record.call;
    if (call === undefined) record.rejectResult!(error);
    else this.callAttemptFailed(call, error);
  }

  private settleFailed(call: CallContext, error: RpcError): void {
    if (call.hooks!.watchesCalls) this.callEnded(call, error, error.endpoint);
    call.reject!(error);
  }

  /** `now`: a clock reading of this turn, if the caller has one. */
  private callEnded(call: CallContext, error: RpcError | undefined, endpoint: Endpoint | undefined, now?: number): void {
    call.code = error === undefined ? Code.OK : error.code;
    call.error = error;
    call.endpoint = endpoint;
    call.endReading = now ?? this.settings.clock.now();
    this.settings.observers.callEnd(call);
  }

  /** UNAVAILABLE (never ran), saying which step left nothing to call and what it had been given. */
  private unavailable(known: readonly Endpoint[], invocation: Invocation, emptiedBy: Router | undefined, given: readonly Endpoint[]): never {
    const what = formatServiceKey(this.settings.service);
    const health = this.settings.health();
    const states = (list: readonly Endpoint[]) => list.map((e) => `${e.id}=${health.state(e)}`).join(', ');
    let why: string;
    if (known.length === 0) why = `the ${this.settings.registryName} registry lists no provider of ${what}`;
    else if (emptiedBy !== undefined) why = `no provider of ${what} is usable: the ${emptiedBy.name} router left none of the ${given.length} it was given (${states(given)})`;
    else why = `every usable provider of ${what} was already tried by this call (${[...invocation.excluded].join(', ')})`;
    throw new RpcError(Code.UNAVAILABLE, why, { mayHaveRun: false });
  }
}

/**
 * `nowhere` (no endpoint left for a re-send), its message followed by what the last attempt met, and
 * that error as its cause. Without it a call to one address that refuses connections said only
 * "every usable provider … was already tried by this call", and the ECONNREFUSED was lost.
 */
function withLastAttempt(nowhere: RpcError, endpoint: Endpoint, last: RpcError): RpcError {
  return new RpcError(nowhere.code, `${nowhere.message}; the last attempt, to ${endpoint.id}, failed: ${last.message}`, {
    mayHaveRun: nowhere.mayHaveRun, metadata: nowhere.metadata, cause: last,
  });
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The transport's outcome for a send made through endpoint interceptors: a Result promise. */
class ChainSink implements ResponseSink {
  constructor(
    private readonly invocation: Invocation,
    private readonly endpoint: Endpoint,
    private readonly record: AttemptRecord | undefined,
    private readonly resolve: (result: Result) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  onResponse(body: Uint8Array, metadata: ReadonlyMap<string, string>): void {
    let response: unknown;
    try {
      response = decodeResponse(this.invocation, this.endpoint, body);
    } catch (error) {
      return this.reject(error);
    }
    if (this.record !== undefined) this.record.bytesReceived = body.length;
    this.resolve({ response, metadata, endpoint: this.endpoint });
  }

  onError(error: RpcError): void {
    this.reject(error);
  }
}

function decodeResponse(invocation: Invocation, endpoint: Endpoint, body: Uint8Array): unknown {
  const method = invocation.method;
  try {
    return method.responseCodec.decode(body);
  } catch (error) {
    throw new RpcError(Code.INTERNAL, `response from ${endpoint.id} for ${method.name} could not be decoded: ${(error as Error).message}`);
  }
}

function responseOf(result: Result): unknown {
  return result.response;
}
