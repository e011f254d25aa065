import { ErrorCodes, TrellisError } from '@trellis/core';
import { invalidOption } from '@trellis/core/toolkit';
import { ExitCode } from './exit-codes.js';

export interface CliErrorOptions {
  /** What to do about it, printed under the message. */
  readonly hint?: string;
  /** Structured detail for `--json` output (validation issues, suggestions, an RPC status…). */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
  /** A more precise code than the one the exit code implies (`ERR_USAGE`, `ERR_NOT_FOUND`…). */
  readonly code?: `ERR_${string}`;
}

/** Stable error codes in `--json` output, one per exit code (besides OK). */
const CODES: Record<number, `ERR_${string}`> = {
  [ExitCode.RPC_FAILED]: 'ERR_RPC_FAILED',
  [ExitCode.USAGE]: 'ERR_USAGE',
  [ExitCode.REGISTRY_UNREACHABLE]: 'ERR_REGISTRY_UNREACHABLE',
  [ExitCode.NOT_FOUND]: 'ERR_NOT_FOUND',
  [ExitCode.INVALID_RULES]: 'ERR_INVALID_RULES',
  [ExitCode.DIFFERENT]: 'ERR_DIFFERENT',
  [ExitCode.DECLINED]: 'ERR_DECLINED',
  [ExitCode.INTERNAL]: 'ERR_INTERNAL',
  [ExitCode.INTERRUPTED]: 'ERR_INTERRUPTED',
};

/**
 * Every failure a command reports: the exit code it maps to, a message that says what happened and a
 * hint that says what to do. Commands throw it; the entry point prints it (text or JSON) and exits.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  private readonly ownCode: `ERR_${string}` | undefined;

  constructor(readonly exitCode: ExitCode, message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
    this.details = options.details;
    this.ownCode = options.code;
  }

  get code(): `ERR_${string}` {
    return this.ownCode ?? CODES[this.exitCode] ?? 'ERR_INTERNAL';
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, exitCode: this.exitCode, message: this.message, ...(this.hint ? { hint: this.hint } : {}), ...this.details };
  }
}

export function usage(message: string, hint?: string, details?: Record<string, unknown>): CliError {
  return new CliError(ExitCode.USAGE, message, { hint, details });
}

export function notFound(message: string, hint?: string, details?: Record<string, unknown>): CliError {
  return new CliError(ExitCode.NOT_FOUND, message, { hint, details });
}

/**
 * A flag with a value it cannot take: worded and coded by core's `invalidOption`, as every option
 * error of the project is (`option "--timeout" is "soon"; expected …`, `ERR_INVALID_OPTION`), exit 2.
 */
export function badFlag(flag: string, value: unknown, expected: string, hint?: string): CliError {
  const error = invalidOption(flag, value, expected);
  return new CliError(ExitCode.USAGE, error.message, { code: error.code as `ERR_${string}`, hint, details: { flag, expected }, cause: error });
}

/**
 * A library's option error that reached the command (a value the CLI passed on, e.g. to RpcClient):
 * the caller's mistake, exit 2 with its own code and message, not a bug in trellis.
 */
export function fromOptionError(error: unknown): CliError | undefined {
  if (!(error instanceof TrellisError) || error.code !== ErrorCodes.INVALID_OPTION) return undefined;
  return new CliError(ExitCode.USAGE, error.message, { code: error.code as `ERR_${string}`, cause: error });
}
