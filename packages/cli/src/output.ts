import Table from 'cli-table3';
import { createSpinner } from 'nanospinner';
import picocolors from 'picocolors';
import type { Colors } from 'picocolors/types';
import type { CliError } from './cli-error.js';

export type Format = 'json' | 'text';

/** The process's streams, passed in so the entry point (and only it) touches `process`. */
export interface Streams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The global flags that decide how output looks. */
export interface OutputFlags {
  readonly output?: string;
  readonly json?: boolean;
  readonly color?: boolean;
}

export interface OutputSettings {
  readonly format: Format;
  readonly color: boolean;
  readonly spinner: boolean;
}

/**
 * Text with colours and aligned tables on a terminal; JSON when stdout is a pipe or a file (scripts
 * read it) or when asked (`--json`, `-o json`); `-o text` keeps tables in a pipe. Colours follow the
 * usual conventions: NO_COLOR turns them off, FORCE_COLOR on, `--no-color` off. The spinner only
 * runs when both stdout and stderr are terminals (and not under CI).
 */
export function outputSettings(flags: OutputFlags, streams: Streams): OutputSettings {
  const format: Format = flags.json ? 'json' : flags.output === 'json' || flags.output === 'text' ? flags.output : streams.stdout.isTTY ? 'text' : 'json';
  const env = streams.env;
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  const color = format === 'text' && flags.color !== false && env.NO_COLOR === undefined && (forced || (streams.stdout.isTTY === true && env.TERM !== 'dumb'));
  // A terminal that reports no width (some ptys) would make nanospinner's line count infinite.
  const spinner = streams.stdout.isTTY === true && streams.stderr.isTTY === true && (streams.stderr.columns ?? 0) > 0 &&
    env.TERM !== 'dumb' && env.CI === undefined;
  return { format, color, spinner };
}

export interface Column {
  readonly header: string;
  /** Right-aligned (numbers). */
  readonly right?: boolean;
}

/** Everything a command prints goes through here: data to stdout, notes and errors to stderr. */
export class Output {
  readonly json: boolean;
  readonly c: Colors;

  constructor(readonly settings: OutputSettings, private readonly streams: Streams) {
    this.json = settings.format === 'json';
    this.c = picocolors.createColors(settings.color);
  }

  /** A line of the command's result (text mode). */
  print(text = ''): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** The command's result as JSON: one document, two-space indented. */
  data(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One JSON document on one line (stream responses: JSON lines, whatever the format). */
  line(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A borderless table with aligned columns (kubectl's look); colours in cells do not upset the widths. */
  table(columns: readonly Column[], rows: readonly (readonly string[])[]): void {
    const table = new Table({
      head: columns.map((c) => this.c.bold(c.header)),
      colAligns: columns.map((c) => (c.right ? 'right' : 'left')),
      chars: {
        top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
        left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ',
      },
      style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    });
    for (const row of rows) table.push([...row]);
    this.print(table.toString().split('\n').map((line) => line.trimEnd()).join('\n'));
  }

  /** Progress and remarks: stderr, so stdout stays the result. */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.streams.stderr.write(`${this.c.yellow('warning:')} ${text}\n`);
  }

  /** Runs `work` under a spinner (terminals only); the spinner is gone before anything else prints. */
  async spin<T>(text: string, work: Promise<T> | (() => Promise<T>)): Promise<T> {
    const promise = typeof work === 'function' ? work() : work;
    if (!this.settings.spinner) return promise;
    const spinner = createSpinner(text, { stream: this.streams.stderr as NodeJS.WriteStream }).start();
    try {
      return await promise;
    } finally {
      spinner.clear();
      spinner.stop();
    }
  }

  /** A failure, as the last thing printed: JSON on stdout in JSON mode (scripts parse one document), else text on stderr. */
  error(error: CliError): void {
    if (this.json) {
      this.streams.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
      return;
    }
    this.streams.stderr.write(`${this.c.red(this.c.bold('error:'))} ${error.message}\n`);
    if (error.hint) this.streams.stderr.write(`${this.c.dim('hint:')} ${error.hint}\n`);
  }
}
