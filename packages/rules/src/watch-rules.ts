import { Code, ErrorCodes, InterceptorOrder, RpcError, TrellisError, type CallGate, type Registry } from '@trellis/core';
import { isConfigSource, RegistryPaths, type Disposable, type ServiceQuery } from '@trellis/core/spi';
import { compileSection, readDocument, type RuleBase, type RuleSpec } from './document.js';
import { describePlace, readWholeDocument, rejectedDocument, type DocumentPlace, type DocumentSpec } from './document-spec.js';
import { RuleDocumentError, RulesErrorCodes, type RuleIssue } from './errors.js';
import type { RuleSet } from './rule-set.js';
import { knownSections } from './sections.js';

/** The parts of a client or server plugin context a document watch needs (both contexts have them). */
export interface DocumentWatchContext {
  readonly registry: Registry;
  /** Identifies the client or server: its plugins share one watch per document. */
  readonly container: object;
  /** The monotonic clock call deadlines are on. */
  readonly clock: { now(): number };
  onClose(fn: () => void): void;
}

/** The parts of a client plugin context the watch of a sectioned document needs (ClientPluginContext has them all). */
export interface RuleWatchContext extends DocumentWatchContext {
  readonly service: ServiceQuery;
}

export interface WatchRulesOptions<R extends RuleBase, C> {
  readonly spec: RuleSpec<R, C>;
  /** Receives each accepted document's compiled section; its fallback returns when the document is deleted. */
  readonly target: RuleSet<C>;
  /** Rejected documents and a source that stays silent. */
  readonly onError: (error: TrellisError) => void;
}

export interface RuleWatch {
  /** True once the source answered (with a document, or with "there is none"), or waiting was given up. */
  readonly loaded: boolean;
  /**
   * A client gate (`ctx.addGate(gate, RULES_GATE_ORDER)`) that holds calls until the first answer (at
   * most `waitMs`, and never past a call's deadline), so a consumer does not route its first calls on
   * start-up rules the live ones would forbid. After that it is one boolean test per call, and returns
   * nothing: no promise.
   */
  gate(waitMs: number): CallGate;
  /**
   * Calls `listener` once, when `loaded` turns true (at once if it is already): from then on the gate
   * holds nothing, for good, so a client puts its gate to sleep there (`ClientPluginContext.setHookActive`)
   * and never needs to wake it. `loaded` never turns back because the watch has no state in which it
   * lost its answer: a deleted or empty document is itself an answer ("there is none": the start-up
   * rules are in force), a rejected one leaves the last rules in force, and a registry that loses its
   * connection delivers nothing (the last document stays; a snapshot only ever stands in before the
   * first live answer). A listener not yet called is dropped by `dispose()` (the client's close):
   * the watch keeps nothing of a closed client.
   */
  onLoaded(listener: () => void): void;
  /** Leaves the document (the last one out stops watching it); called on the client's or server's close. */
  dispose(): void;
}

/**
 * Where the gate sits: InterceptorOrder.RULES_GATE, after retry (a gate there runs before each attempt; once
 * the documents arrived that is one boolean test), above the directory.
 */
export const RULES_GATE_ORDER = InterceptorOrder.RULES_GATE;

export interface WatchDocumentOptions<V, C> {
  readonly spec: DocumentSpec<V>;
  /** The plugin's step from a checked document to what it evaluates; may throw an InvalidOptionError. */
  readonly compile: (value: V) => C;
  /** Receives each accepted document's compiled form; its fallback returns when the document is deleted. */
  readonly target: RuleSet<C>;
  /** Rejected documents and a source that cannot be watched. */
  readonly onError: (error: TrellisError) => void;
}

/** A plugin reading one section of a shared document (routes), or a whole document it owns (breaker). */
type Participant =
  | { readonly kind: 'section'; readonly spec: RuleSpec<RuleBase, unknown>; readonly target: RuleSet<unknown>; readonly onError: (error: TrellisError) => void }
  | {
    readonly kind: 'whole';
    readonly spec: DocumentSpec<unknown>;
    readonly compile: (value: unknown) => unknown;
    readonly target: RuleSet<unknown>;
    readonly onError: (error: TrellisError) => void;
  };

/** Per client or server (its container), the documents followed, by `group/service/document`. */
const shared = new WeakMap<object, Map<string, SharedDocument>>();

function documentKey(service: ServiceQuery, name: string): string {
  return `${service.group}/${service.name}/${name}`;
}

function attach(ctx: DocumentWatchContext, service: ServiceQuery, name: string, participant: Participant): RuleWatch | undefined {
  if (!isConfigSource(ctx.registry)) return undefined;
  let byKey = shared.get(ctx.container);
  if (byKey === undefined) shared.set(ctx.container, (byKey = new Map()));
  const key = documentKey(service, name);
  let document = byKey.get(key);
  if (document === undefined || document.closed) {
    document = new SharedDocument(ctx, { group: service.group, name: service.name }, name, () => byKey.delete(key));
    byKey.set(key, document);
  }
  document.add(participant);
  const doc = document;
  /** This holder's onLoaded listeners still waiting on the document: dropped with it, not left on a watch that outlives it. */
  const listeners: (() => void)[] = [];
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const listener of listeners.splice(0)) doc.offLoaded(listener);
    doc.remove(participant);
  };
  ctx.onClose(dispose);
  return {
    get loaded() {
      return doc.loaded;
    },
    gate: (waitMs) => doc.gate(waitMs),
    onLoaded: (listener) => {
      if (disposed) return;
      if (doc.loaded) return listener();
      const once = (): void => {
        listeners.splice(listeners.indexOf(once), 1);
        listener();
      };
      listeners.push(once);
      doc.onLoaded(once);
    },
    dispose,
  };
}

/**
 * Follows the live rule document `name` of the client's service (`/trellis/config/{group}/{service}/{name}`
 * in etcd and ZooKeeper) and swaps each accepted version into `options.target`. Returns undefined when
 * the client's registry cannot watch documents.
 *
 * Plugins of one client that read sections of the same document share one watch, and an update is
 * applied to all of them or to none: if any section is invalid the whole document is rejected, every
 * participant's rules stay as they were, and the error goes to each participant's `onError` (once per
 * distinct function).
 */
export function watchRules<R extends RuleBase, C>(ctx: RuleWatchContext, name: string, options: WatchRulesOptions<R, C>): RuleWatch | undefined {
  return attach(ctx, ctx.service, name, { kind: 'section', ...(options as unknown as WatchRulesOptions<RuleBase, unknown>) });
}

/**
 * Follows the live document `name` of `service` (`/trellis/config/{group}/{service}/{name}`), a
 * document one plugin owns whole (`options.spec`), and swaps each accepted version, compiled by
 * `options.compile`, into `options.target`. A rejected document is reported (the spec's `rejected`
 * says how) and the one in force stays; a deleted one brings the target's fallback back. Returns
 * undefined when the registry cannot watch documents. Works on either side: a server passes each
 * service it provides.
 */
export function watchDocument<V, C>(ctx: DocumentWatchContext, service: ServiceQuery, name: string, options: WatchDocumentOptions<V, C>): RuleWatch | undefined {
  return attach(ctx, service, name, { kind: 'whole', ...(options as unknown as WatchDocumentOptions<unknown, unknown>) });
}

/** Which client or server, and which of its services (a client has one: its `service`). */
export interface DocumentHolder {
  /** The client's or server's `container` (from its plugin context). */
  readonly container: object;
  readonly service: ServiceQuery;
}

/**
 * Validates `text` as the live document `name` of a client's or server's service, exactly as its
 * live watch would before applying it (every section of every rule-reading plugin of that client, or
 * the whole-document spec and the owning plugin's compile step), and applies nothing: for admin tools
 * that must refuse a document before writing it. Without a live watch of `name` there, only the
 * shape of a sectioned document is checked (syntax, version, known sections).
 */
export function checkRuleDocument(holder: DocumentHolder, name: string, text: string): { readonly ok: true; readonly version: string } | { readonly ok: false; readonly issues: readonly RuleIssue[] } {
  const document = shared.get(holder.container)?.get(documentKey(holder.service, name));
  if (document !== undefined && !document.closed) return document.check(text);
  const read = readDocument(text, knownSections(name));
  return read.ok ? { ok: true, version: read.value.version } : read;
}

class SharedDocument {
  readonly participants: Participant[] = [];
  loaded = false;
  closed = false;
  private watch: Disposable | undefined;
  private starter: NodeJS.Immediate | undefined;
  /** The text in force (accepted), to skip repeats and to serve participants that join late. */
  private accepted: string | undefined;
  private lastText: string | undefined | null = null;
  /** Calls held at the gate; each leaves on its own timeout, the others with the first answer. */
  private readonly waiters = new Set<() => void>();
  private readonly loadedListeners = new Set<() => void>();
  private gaveUp = false;
  readonly source: string;
  private readonly place: DocumentPlace;

  constructor(
    private readonly ctx: DocumentWatchContext,
    private readonly service: ServiceQuery,
    private readonly name: string,
    private readonly forget: () => void,
  ) {
    this.place = { document: name, service, registry: ctx.registry.name, path: RegistryPaths.config(RegistryPaths.DEFAULT_ROOT, service, name) };
    this.source = describePlace(this.place);
    // Start after the other plugins' setup ran (they run back to back), so their sections are known
    // before the first document is read and it is judged as a whole.
    this.starter = setImmediate(() => this.start());
  }

  add(participant: Participant): void {
    const other = this.participants[0];
    if (other !== undefined && (other.kind !== participant.kind || (participant.kind === 'whole' && other.spec !== participant.spec))) {
      // One document, one reading: sections of a shared document, or one plugin's whole document.
      throw new TrellisError(
        ErrorCodes.INVALID_OPTION,
        `the ${this.source} is already read ${other.kind === 'whole' ? 'whole by another plugin' : 'as sections'}; give this plugin a document of its own`,
      );
    }
    this.participants.push(participant);
    if (this.accepted === undefined) return;
    // Joined after a document was applied to the others (a plugin whose setup awaited something).
    const outcome = this.readAll(this.accepted, [participant]);
    if (outcome.ok) outcome.apply();
    else this.report(this.rejected(outcome.issues), [participant]);
  }

  remove(participant: Participant): void {
    const at = this.participants.indexOf(participant);
    if (at >= 0) this.participants.splice(at, 1);
    if (this.participants.length > 0) return;
    this.closed = true;
    if (this.starter) clearImmediate(this.starter);
    this.watch?.dispose();
    this.open();
    this.forget();
  }

  gate(waitMs: number): CallGate {
    return {
      beforeCall: (invocation) => {
        if (this.loaded) return undefined;
        // Whole milliseconds, rounded down: the kernel's own deadline timer for a waiting gate is
        // rounded up, so at the deadline this gate's error (it says what the call waited for) comes first.
        const remaining = Math.floor(invocation.deadline - this.ctx.clock.now());
        return this.whenLoaded(Math.min(waitMs, Math.max(0, remaining))).then(() => {
          if (!this.loaded && remaining < waitMs) {
            // The call's own deadline ran out first: fail it plainly rather than race the transport.
            throw new RpcError(Code.DEADLINE_EXCEEDED, `deadline exceeded while waiting for the ${this.source}`, { mayHaveRun: false });
          }
          if (!this.loaded && !this.gaveUp) this.giveUp(waitMs);
        });
      },
    };
  }

  onLoaded(listener: () => void): void {
    if (this.loaded) listener();
    else this.loadedListeners.add(listener);
  }

  offLoaded(listener: () => void): void {
    this.loadedListeners.delete(listener);
  }

  private whenLoaded(timeoutMs: number): Promise<void> {
    if (this.loaded) return Promise.resolve();
    return new Promise((resolve) => {
      const { waiters } = this;
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        // A call that stopped waiting (its own time ran out) must not stay on the list until the answer.
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  /** The source stayed silent for a whole wait: route on the start-up rules, say so once. */
  private giveUp(waitMs: number): void {
    this.gaveUp = true;
    this.open();
    const error = new TrellisError(
      RulesErrorCodes.RULES_NOT_LOADED,
      `no answer for the ${this.source} within ${waitMs} ms; routing with the start-up rules until it arrives`,
    );
    this.report(error, this.participants);
  }

  /**
   * The first answer (or the wait given up, or the watch closed): `loaded` turns true for good. There
   * is no way back: see RuleWatch.onLoaded for why the watch never loses its answer.
   */
  private open(): void {
    this.loaded = true;
    for (const wake of [...this.waiters]) wake();
    const listeners = [...this.loadedListeners];
    this.loadedListeners.clear();
    for (const listener of listeners) {
      try {
        listener();
      } catch { /* a listener's failure must not stop the others or the registry's callback */ }
    }
  }

  private start(): void {
    this.starter = undefined;
    if (this.closed || !isConfigSource(this.ctx.registry)) return;
    try {
      this.watch = this.ctx.registry.watchConfig(this.service, this.name, (text) => this.changed(text));
    } catch (error) {
      this.report(new TrellisError(RulesErrorCodes.RULES_NOT_LOADED, `could not watch the ${this.source}: ${(error as Error).message}`, { cause: error }), this.participants);
      this.open();
    }
  }

  /** Registry callback: must never throw into the registry. */
  private changed(received: string | undefined): void {
    if (this.closed) return;
    // An empty document (a ZooKeeper node created before its data is set) counts as no document.
    const text = received !== undefined && received.trim() === '' ? undefined : received;
    try {
      if (text !== this.lastText) this.apply(text);
    } catch (error) {
      this.report(new TrellisError(RulesErrorCodes.INVALID_RULES, `the ${this.source} could not be applied: ${(error as Error).message}`, { cause: error }), this.participants);
    } finally {
      this.lastText = text;
      this.open();
    }
  }

  private apply(text: string | undefined): void {
    if (text === undefined) {
      // Deleted: every participant goes back to its start-up rules.
      this.accepted = undefined;
      for (const p of this.participants) p.target.swap(undefined);
      return;
    }
    const outcome = this.readAll(text, this.participants);
    if (!outcome.ok) {
      this.report(this.rejected(outcome.issues), this.participants);
      return;
    }
    this.accepted = text;
    outcome.apply();
  }

  check(text: string): { readonly ok: true; readonly version: string } | { readonly ok: false; readonly issues: readonly RuleIssue[] } {
    const outcome = this.readAll(text, this.participants);
    return outcome.ok ? { ok: true, version: outcome.version } : outcome;
  }

  /** The error a rejected document is reported with: the owning spec's words for a whole document. */
  private rejected(issues: readonly RuleIssue[]): TrellisError {
    const first = this.participants[0];
    if (first?.kind === 'whole') return (first.spec.rejected ?? rejectedDocument)(this.place, issues);
    return RuleDocumentError.rejected(this.source, issues);
  }

  /** Validates and compiles for every participant; applying is a separate, infallible step. */
  private readAll(text: string, participants: readonly Participant[]): { ok: true; version: string; apply(): void } | { ok: false; issues: readonly RuleIssue[] } {
    const first = this.participants[0] ?? participants[0];
    if (first?.kind === 'whole') return this.readWhole(text, participants as readonly Extract<Participant, { kind: 'whole' }>[], first.spec);
    const readers = this.participants as readonly Extract<Participant, { kind: 'section' }>[];
    const sections = [...new Set([...knownSections(this.name), ...readers.map((p) => p.spec.section)])];
    const read = readDocument(text, sections);
    if (!read.ok) return read;
    const issues: RuleIssue[] = [];
    const compiled: unknown[] = [];
    for (const p of participants as readonly Extract<Participant, { kind: 'section' }>[]) {
      const outcome = compileSection(p.spec, read.value.sections[p.spec.section]);
      if (outcome.ok) compiled.push(outcome.value);
      else issues.push(...outcome.issues);
    }
    if (issues.length > 0) return { ok: false, issues };
    return { ok: true, version: read.value.version, apply: this.applier(participants, compiled, read.value.version) };
  }

  private readWhole(
    text: string,
    participants: readonly Extract<Participant, { kind: 'whole' }>[],
    spec: DocumentSpec<unknown>,
  ): { ok: true; version: string; apply(): void } | { ok: false; issues: readonly RuleIssue[] } {
    // Each owner compiles with its own settings (normally there is one: the plugin that owns it).
    let version = '';
    const compiled: unknown[] = [];
    for (const p of participants.length > 0 ? participants : [undefined]) {
      const outcome = readWholeDocument(spec, text, p?.compile);
      if (!outcome.ok) return outcome;
      version = outcome.value.version;
      compiled.push(outcome.value.compiled);
    }
    return { ok: true, version, apply: this.applier(participants, compiled, version) };
  }

  private applier(participants: readonly Participant[], compiled: readonly unknown[], version: string): () => void {
    return () => participants.forEach((p, i) => p.target.swap({ compiled: compiled[i], version, origin: 'live', source: this.source }));
  }

  private report(error: TrellisError, to: readonly Participant[]): void {
    for (const onError of new Set(to.map((p) => p.onError))) {
      try {
        onError(error);
      } catch { /* a failing reporter must not stop the others */ }
    }
  }
}
