import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ServiceQuery } from '@trellis/core/spi';
import { CliError, notFound, usage } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { confirm } from '../input/confirm.js';
import { unknownService } from '../registry/registry-client.js';
import { colorDiff, documentDiff } from '../rules/diff.js';
import { documentKind, RULE_DOCUMENTS, type DocumentProblem, type RuleDocumentKind } from '../rules/documents.js';
import { checkServiceName } from '../target.js';

export interface RulesFlags {
  /** The document's name in the registry (default: from the file name, e.g. routes.yaml → routes). */
  readonly doc?: string;
  /** Which validator, when the document has a custom name (a plugin's `document`/`config` option). */
  readonly kind?: string;
  readonly yes?: boolean;
  /** Write even if the registry knows nothing of the service (a typo guard otherwise). */
  readonly force?: boolean;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

interface Target {
  readonly name: string;
  readonly kind: RuleDocumentKind;
}

/** The document a command is about: --doc, else the file's base name; the validator: --kind, else by name. */
function target(flags: RulesFlags, file: string | undefined): Target {
  const name = flags.doc ?? (file !== undefined && file !== '-' ? basename(file).replace(/\..*$/, '') : undefined);
  const known = RULE_DOCUMENTS.map((k) => k.name).join(', ');
  if (name === undefined || name === '') throw usage('which document?', `pass --doc ${known}`);
  if (!NAME.test(name)) throw usage(`document name "${name}" may only contain letters, digits, "_", "." and "-"`);
  const kindName = flags.kind ?? name;
  const kind = documentKind(kindName);
  if (kind === undefined) {
    throw usage(
      flags.kind !== undefined ? `--kind "${flags.kind}" is unknown` : `"${name}" is not a document trellis knows how to validate`,
      flags.doc === undefined && flags.kind === undefined ? `name the document with --doc (${known}), or the file after it (routes.yaml)` : `pass --kind ${known} to say how to validate it`,
    );
  }
  return { name, kind };
}

async function readInput(ctx: CommandContext, file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.streams.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw usage(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function invalid(ctx: CommandContext, target: Target, file: string, problems: readonly DocumentProblem[]): CliError {
  const lines = problems.map((p) => `  - ${p.message}`).join('\n');
  return new CliError(ExitCode.INVALID_RULES, `${file} is not a valid ${target.kind.name} document (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was written:\n${lines}`, {
    hint: `fix the document and run trellis rules validate again`,
    details: { document: target.name, kind: target.kind.name, problems: problems.map((p) => ({ message: p.message, ...p.issue })) },
  });
}

/** The file's text, validated; INVALID_RULES (exit 5) listing every problem the validator found. */
async function validated(ctx: CommandContext, target: Target, file: string): Promise<string> {
  const text = await readInput(ctx, file);
  if (text.trim() === '') {
    throw new CliError(ExitCode.INVALID_RULES, `${file} is empty`, { hint: `to remove the document, run trellis rules delete <service> --doc ${target.name}` });
  }
  const problems = target.kind.validate(text, file);
  if (problems.length > 0) throw invalid(ctx, target, file, problems);
  return text;
}

/** The service must be known to the registry (providers or documents), unless --force. */
async function checkKnown(ctx: CommandContext, query: ServiceQuery, force: boolean | undefined): Promise<void> {
  const registry = ctx.registry();
  const services = await ctx.out.spin(`reading ${registry.address.display}`, registry.services());
  if (services.some((s) => s.group === query.group && s.name === query.name)) return;
  if (force) return;
  const error = unknownService(query, services, registry.address.display);
  throw new CliError(ExitCode.NOT_FOUND, error.message, {
    hint: `${error.hint ?? ''}${error.hint ? '; ' : ''}to write rules for a service that has not registered yet, pass --force`,
    details: error.details,
  });
}

function query(ctx: CommandContext, service: string): ServiceQuery {
  return { group: ctx.group, name: checkServiceName(service) };
}

/** `trellis rules get <service> [--doc name]` */
export async function rulesGet(ctx: CommandContext, service: string, flags: RulesFlags): Promise<number> {
  const q = query(ctx, service);
  const registry = ctx.registry();
  if (flags.doc !== undefined) {
    if (!NAME.test(flags.doc)) throw usage(`document name "${flags.doc}" may only contain letters, digits, "_", "." and "-"`);
    const text = await ctx.out.spin(`reading ${registry.address.display}`, registry.readDocument(q, flags.doc));
    if (text === undefined) {
      await checkKnown(ctx, q, false);
      throw notFound(`${q.group}/${q.name} has no "${flags.doc}" document in ${registry.address.display}`, `trellis rules get ${q.name} lists the documents it has`);
    }
    // One document: its text as stored (so `> routes.yaml` round-trips), JSON only when asked.
    if (ctx.flags.json || ctx.flags.output === 'json') ctx.out.data({ registry: registry.address.display, group: q.group, service: q.name, document: flags.doc, text });
    else ctx.out.print(text.replace(/\n$/, ''));
    return ExitCode.OK;
  }
  const found = await ctx.out.spin(`reading ${registry.address.display}`, registry.service(q));
  const names = [...new Set([...RULE_DOCUMENTS.map((k) => k.name), ...found.documents])];
  const texts = await ctx.out.spin('reading rule documents', Promise.all(names.map((name) => registry.readDocument(q, name))));
  if (ctx.out.json) {
    ctx.out.data({
      registry: registry.address.display, group: q.group, service: q.name,
      documents: Object.fromEntries(names.map((name, i) => [name, texts[i] ?? null])),
    });
    return ExitCode.OK;
  }
  const { c } = ctx.out;
  ctx.out.print(`${c.bold(`${q.group}/${q.name}`)}  ${c.dim(registry.address.display)}`);
  names.forEach((name, i) => {
    const text = texts[i];
    ctx.out.print();
    if (text === undefined) {
      ctx.out.print(`${c.bold(`# ${name}`)} ${c.dim('(none)')}`);
      return;
    }
    ctx.out.print(`${c.bold(`# ${name}`)} ${c.dim(`(${documentKind(name)?.summary ?? 'custom document'})`)}`);
    ctx.out.print(text.replace(/\n$/, ''));
  });
  return ExitCode.OK;
}

/** `trellis rules validate <service> <file>`: no registry needed; exit 5 when invalid. */
export async function rulesValidate(ctx: CommandContext, service: string, file: string, flags: RulesFlags): Promise<number> {
  checkServiceName(service);
  const t = target(flags, file);
  await validated(ctx, t, file);
  if (ctx.out.json) ctx.out.data({ valid: true, document: t.name, kind: t.kind.name, file });
  else ctx.out.print(`${ctx.out.c.green('valid:')} ${file} is a valid ${t.kind.name} document`);
  return ExitCode.OK;
}

/** `trellis rules diff <service> <file>`: exit 0 when the registry holds the same text, 6 when not. */
export async function rulesDiff(ctx: CommandContext, service: string, file: string, flags: RulesFlags): Promise<number> {
  const q = query(ctx, service);
  const t = target(flags, file);
  const text = await readInput(ctx, file);
  const registry = ctx.registry();
  const current = await ctx.out.spin(`reading ${registry.address.display}`, registry.readDocument(q, t.name));
  if (current === undefined) await checkKnown(ctx, q, flags.force);
  const patch = documentDiff(current, text, `${registry.address.display} ${q.group}/${q.name}/${t.name}`, file);
  if (ctx.out.json) ctx.out.data({ registry: registry.address.display, group: q.group, service: q.name, document: t.name, same: patch === '', diff: patch });
  else if (patch === '') ctx.out.note(`${file} and the ${t.name} document of ${q.group}/${q.name} are the same`);
  else ctx.out.print(colorDiff(patch, ctx.out.c));
  return patch === '' ? ExitCode.OK : ExitCode.DIFFERENT;
}

/** `trellis rules set <service> <file>`: validate, diff, confirm, write. */
export async function rulesSet(ctx: CommandContext, service: string, file: string, flags: RulesFlags): Promise<number> {
  const q = query(ctx, service);
  const t = target(flags, file);
  const text = await validated(ctx, t, file);
  await checkKnown(ctx, q, flags.force);
  const registry = ctx.registry();
  const current = await ctx.out.spin(`reading ${registry.address.display}`, registry.readDocument(q, t.name));
  const patch = documentDiff(current, text, `${registry.address.display} ${q.group}/${q.name}/${t.name}`, file);
  const report = (written: boolean) => ({ registry: registry.address.display, group: q.group, service: q.name, document: t.name, written, diff: patch });
  if (patch === '') {
    if (ctx.out.json) ctx.out.data(report(false));
    else ctx.out.note(`the ${t.name} document of ${q.group}/${q.name} already holds ${file}; nothing written`);
    return ExitCode.OK;
  }
  if (!ctx.out.json) ctx.out.print(colorDiff(patch, ctx.out.c));
  await confirm(`write the ${t.name} document of ${q.group}/${q.name} to ${registry.address.display}?`, ctx.streams, flags.yes);
  await ctx.out.spin('writing', registry.writeDocument(q, t.name, text));
  if (ctx.out.json) ctx.out.data(report(true));
  else ctx.out.print(`${ctx.out.c.green('written:')} ${q.group}/${q.name} ${t.name} (${Buffer.byteLength(text)} bytes) to ${registry.address.display}`);
  return ExitCode.OK;
}

/** `trellis rules delete <service> --doc name`: the plugins go back to their code's settings. */
export async function rulesDelete(ctx: CommandContext, service: string, flags: RulesFlags): Promise<number> {
  const q = query(ctx, service);
  if (flags.doc === undefined) throw usage('which document?', `pass --doc ${RULE_DOCUMENTS.map((k) => k.name).join(', ')}`);
  if (!NAME.test(flags.doc)) throw usage(`document name "${flags.doc}" may only contain letters, digits, "_", "." and "-"`);
  const registry = ctx.registry();
  const current = await ctx.out.spin(`reading ${registry.address.display}`, registry.readDocument(q, flags.doc));
  if (current === undefined) {
    await checkKnown(ctx, q, false);
    throw notFound(`${q.group}/${q.name} has no "${flags.doc}" document to delete`);
  }
  const patch = documentDiff(current, undefined, `${registry.address.display} ${q.group}/${q.name}/${flags.doc}`, '(deleted)');
  if (!ctx.out.json) ctx.out.print(colorDiff(patch, ctx.out.c));
  await confirm(`delete the ${flags.doc} document of ${q.group}/${q.name} from ${registry.address.display}?`, ctx.streams, flags.yes);
  await ctx.out.spin('deleting', registry.writeDocument(q, flags.doc, undefined));
  if (ctx.out.json) ctx.out.data({ registry: registry.address.display, group: q.group, service: q.name, document: flags.doc, deleted: true, diff: patch });
  else ctx.out.print(`${ctx.out.c.green('deleted:')} ${q.group}/${q.name} ${flags.doc}`);
  return ExitCode.OK;
}
