import { Code, InterceptorOrder, RpcError, TrellisError, type Interceptor, type Registry } from '@trellis/core';
import { isConfigSource, type Disposable, type ServiceQuery } from '@trellis/core/spi';
import { compileSection, readDocument, type RuleBase, type RuleSpec } from './document.js';
import { RuleDocumentError, RulesErrorCodes, type RuleIssue } from './errors.js';
import type { RuleSet } from './rule-set.js';
import { knownSections } from './sections.js';

/** The parts of a client plugin context the watch needs (ClientPluginContext has them all). */
export interface RuleWatchContext {
  readonly registry: Registry;
  readonly service: ServiceQuery;
  /** Identifies the client: plugins on one client share one watch per document. */
  readonly container: object;
  /** The client's monotonic clock: call deadlines are on it. */
  readonly clock: { now(): number };
  onClose(fn: () => void): void;
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
   * An interceptor that holds calls until the first answer (at most `waitMs`, and never past a call's
   * deadline), so a consumer does not route its first calls on start-up rules the live ones would
   * forbid. After that it is one boolean test per call.
   */
  gate(waitMs: number): Interceptor;
  dispose(): void;
}

/** Where the gate sits: InterceptorOrder.RULES_GATE, inside retry (the wait costs no attempt), above the directory. */
export const RULES_GATE_ORDER = InterceptorOrder.RULES_GATE;

interface Participant {
  readonly spec: RuleSpec<RuleBase, unknown>;
  readonly target: RuleSet<unknown>;
  readonly onError: (error: TrellisError) => void;
}

const shared = new WeakMap<object, Map<string, SharedDocument>>();

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
  if (!isConfigSource(ctx.registry)) return undefined;
  let byName = shared.get(ctx.container);
  if (byName === undefined) shared.set(ctx.container, (byName = new Map()));
  let document = byName.get(name);
  if (document === undefined || document.closed) {
    document = new SharedDocument(ctx, name, () => byName.delete(name));
    byName.set(name, document);
  }
  const participant = options as unknown as Participant;
  document.add(participant);
  const doc = document;
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    doc.remove(participant);
  };
  ctx.onClose(dispose);
  return {
    get loaded() {
      return doc.loaded;
    },
    gate: (waitMs) => doc.gate(waitMs),
    dispose,
  };
}

/**
 * Validates `text` as the live rule document `name` of a client, exactly as the live watch would
 * before applying it (every section of every rule-reading plugin on that client), and applies
 * nothing: for admin tools that must refuse a document before writing it. `container` is the
 * client's (`ClientPluginContext.container`). Without a live watch of `name` on that client, only the
 * document's shape is checked (syntax, version, known sections).
 */
export function checkRuleDocument(container: object, name: string, text: string): { readonly ok: true; readonly version: string } | { readonly ok: false; readonly issues: readonly RuleIssue[] } {
  const document = shared.get(container)?.get(name);
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
  private waiters: (() => void)[] = [];
  private gaveUp = false;
  readonly source: string;

  constructor(private readonly ctx: RuleWatchContext, private readonly name: string, private readonly forget: () => void) {
    this.source = `"${name}" document of ${ctx.service.group}/${ctx.service.name} from the ${ctx.registry.name} registry`;
    // Start after the other plugins' setup ran (they run back to back), so their sections are known
    // before the first document is read and it is judged as a whole.
    this.starter = setImmediate(() => this.start());
  }

  add(participant: Participant): void {
    this.participants.push(participant);
    if (this.accepted === undefined) return;
    // Joined after a document was applied to the others (a plugin whose setup awaited something).
    const outcome = this.readAll(this.accepted, [participant]);
    if (outcome.ok) outcome.apply();
    else this.report(RuleDocumentError.rejected(this.source, outcome.issues), [participant]);
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

  gate(waitMs: number): Interceptor {
    return (next) => (invocation) => {
      if (this.loaded) return next(invocation);
      const remaining = invocation.deadline - this.ctx.clock.now();
      return this.whenLoaded(Math.min(waitMs, Math.max(0, remaining))).then(() => {
        if (!this.loaded && remaining < waitMs) {
          // The call's own deadline ran out first: fail it plainly rather than race the transport.
          throw new RpcError(Code.DEADLINE_EXCEEDED, `deadline exceeded while waiting for the ${this.source}`, { mayHaveRun: false });
        }
        if (!this.loaded && !this.gaveUp) this.giveUp(waitMs);
        return next(invocation);
      });
    };
  }

  private whenLoaded(timeoutMs: number): Promise<void> {
    if (this.loaded) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
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

  private open(): void {
    this.loaded = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private start(): void {
    this.starter = undefined;
    if (this.closed || !isConfigSource(this.ctx.registry)) return;
    try {
      this.watch = this.ctx.registry.watchConfig(this.ctx.service, this.name, (text) => this.changed(text));
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
      this.report(RuleDocumentError.rejected(this.source, outcome.issues), this.participants);
      return;
    }
    this.accepted = text;
    outcome.apply();
  }

  check(text: string): { readonly ok: true; readonly version: string } | { readonly ok: false; readonly issues: readonly RuleIssue[] } {
    const read = readDocument(text, [...new Set([...knownSections(this.name), ...this.participants.map((p) => p.spec.section)])]);
    if (!read.ok) return read;
    const outcome = this.readAll(text, this.participants);
    return outcome.ok ? { ok: true, version: read.value.version } : outcome;
  }

  /** Validates and compiles every participant's section; applying is a separate, infallible step. */
  private readAll(text: string, participants: readonly Participant[]): { ok: true; apply(): void } | { ok: false; issues: readonly RuleIssue[] } {
    const sections = [...new Set([...knownSections(this.name), ...this.participants.map((p) => p.spec.section)])];
    const read = readDocument(text, sections);
    if (!read.ok) return read;
    const issues: RuleIssue[] = [];
    const compiled: unknown[] = [];
    for (const p of participants) {
      const outcome = compileSection(p.spec, read.value.sections[p.spec.section]);
      if (outcome.ok) compiled.push(outcome.value);
      else issues.push(...outcome.issues);
    }
    if (issues.length > 0) return { ok: false, issues };
    const version = read.value.version;
    return {
      ok: true,
      apply: () => participants.forEach((p, i) => p.target.swap({ compiled: compiled[i], version, origin: 'live', source: this.source })),
    };
  }

  private report(error: TrellisError, to: readonly Participant[]): void {
    for (const onError of new Set(to.map((p) => p.onError))) {
      try {
        onError(error);
      } catch { /* a failing reporter must not stop the others */ }
    }
  }
}
