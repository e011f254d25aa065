import type { ClientPluginContext, ConfigSource, Disposable, PrimaryPluginContext, ServerPluginContext, ServiceQuery } from '@trellis/core/spi';
import { isConfigSource } from '@trellis/core/spi';
import { checkRuleDocument, MAX_DOCUMENT_BYTES, type RuleIssue } from '@trellis/rules';
import { AdminApiError, AdminErrorCodes } from './errors.js';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export interface DocumentView {
  readonly document: string;
  /** The text in the registry now; null when there is none. */
  readonly text: string | null;
  /** False when the client's registry cannot hold documents (a static address list). */
  readonly live: boolean;
}

/**
 * The rule documents of one service of a client (its service: `routes`, `breaker`) or of a server
 * (each service it provides: `limits`) as the registry holds them: each followed with the registry's
 * own watch once the console first asks for it (so the editor starts from the text in force),
 * validated with @trellis/rules exactly as that client's or server's live watch would validate it,
 * and written through the registry's ConfigSource.
 */
export class RuleDocuments {
  private readonly texts = new Map<string, { text: string | undefined; ready: Promise<void>; watch: Disposable }>();
  private readonly service: ServiceQuery;

  constructor(private readonly context: ClientPluginContext | ServerPluginContext | PrimaryPluginContext, service: ServiceQuery) {
    this.service = { group: service.group, name: service.name };
  }

  private get source(): ConfigSource | undefined {
    return isConfigSource(this.context.registry) ? this.context.registry : undefined;
  }

  private query(): ServiceQuery {
    return this.service;
  }

  /** `default/shop.Checkout`: how inspectors and the API name a service. */
  get serviceId(): string {
    return `${this.service.group}/${this.service.name}`;
  }

  static checkName(name: unknown): string {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, 'document must be a name of letters, digits, "_", "." and "-" (e.g. "routes")');
    }
    return name;
  }

  private follow(name: string): { text: string | undefined; ready: Promise<void> } {
    let entry = this.texts.get(name);
    if (entry !== undefined) return entry;
    const source = this.source!;
    let resolveReady!: () => void;
    const ready = new Promise<void>((resolve) => (resolveReady = resolve));
    const created = {
      text: undefined as string | undefined,
      ready,
      watch: source.watchConfig(this.query(), name, (text) => {
        created.text = text;
        resolveReady();
      }),
    };
    this.texts.set(name, created);
    entry = created;
    return entry;
  }

  async read(name: string): Promise<DocumentView> {
    if (this.source === undefined) return { document: name, text: null, live: false };
    const entry = this.follow(name);
    // A registry answers a watch with the current value promptly; a silent one must not hang the API.
    await Promise.race([entry.ready, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    return { document: name, text: entry.text ?? null, live: true };
  }

  /**
   * The documents a plugin here follows live, from its `@trellis/rules/…` inspector: sections of a
   * client's shared documents (no `service` in the read-out: the client's own), and documents owned
   * whole (with the `service` they belong to, on either side).
   */
  followedLive(): string[] {
    const names = new Set<string>();
    for (const [key, value] of Object.entries(this.context.inspect().inspectors)) {
      const rules = value as { document?: unknown; live?: unknown; service?: unknown } | undefined;
      if (!key.startsWith('@trellis/rules/') || rules?.live !== true || typeof rules.document !== 'string') continue;
      const ours = rules.service === undefined ? this.context.side === 'client' : rules.service === this.serviceId;
      if (ours) names.add(rules.document);
    }
    return [...names];
  }

  validate(name: string, text: unknown): { ok: true; version: string } | { ok: false; issues: readonly RuleIssue[] } {
    if (typeof text !== 'string') throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, 'text must be the document as a string (JSON or YAML)');
    if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) {
      return { ok: false, issues: [{ field: '', message: `is ${Buffer.byteLength(text)} bytes; documents are limited to ${MAX_DOCUMENT_BYTES}` }] };
    }
    return checkRuleDocument({ container: this.context.container, service: this.service }, name, text);
  }

  /**
   * Validates (authoritatively: the browser's check is a convenience) and writes. `expected` is the
   * text the editor started from: when the registry holds something else now, nothing is written (409).
   */
  async write(name: string, text: unknown, expected: unknown): Promise<{ version: string }> {
    const source = this.source;
    if (source?.putConfig === undefined) {
      throw new AdminApiError(409, AdminErrorCodes.NO_CONFIG_SOURCE, `the ${this.context.registry.name} registry of this ${this.context.side} cannot store rule documents`);
    }
    // Only a document a plugin here follows live is validated with that plugin's own rules; any other
    // would be written with its shape checked only.
    if (!this.followedLive().includes(name)) {
      throw new AdminApiError(409, AdminErrorCodes.NOT_VALIDATABLE, `no plugin here follows the "${name}" document of ${this.serviceId} live, so it cannot be validated here; nothing was written`);
    }
    const outcome = this.validate(name, text);
    if (!outcome.ok) throw new AdminApiError(422, AdminErrorCodes.INVALID_RULES, `the document is invalid; nothing was written`, { issues: outcome.issues });
    if (expected !== undefined && expected !== null && typeof expected !== 'string') {
      throw new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, 'expected must be the text the edit started from, or null for "no document"');
    }
    if (expected !== undefined) {
      const current = (await this.read(name)).text;
      if (current !== expected) {
        throw new AdminApiError(409, AdminErrorCodes.CONFLICT, 'the document changed in the registry since the editor loaded it; reload, then edit again', { current });
      }
    }
    await source.putConfig(this.query(), name, text as string);
    return { version: outcome.version };
  }

  close(): void {
    for (const entry of this.texts.values()) entry.watch.dispose();
    this.texts.clear();
  }
}
