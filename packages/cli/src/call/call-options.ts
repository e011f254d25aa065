import { readFileSync } from 'node:fs';
import { usage } from '../cli-error.js';
import type { Target } from '../target.js';

/** `--cacert` trusts a CA for grpcs://; `--insecure` skips verifying the server's certificate (test servers). */
export function tlsOptions(flags: { readonly cacert?: string; readonly insecure?: boolean }): { ca?: Buffer; rejectUnauthorized?: boolean } | undefined {
  if (flags.insecure) return { rejectUnauthorized: false };
  if (flags.cacert === undefined) return undefined;
  try {
    return { ca: readFileSync(flags.cacert) };
  } catch (error) {
    throw usage(`cannot read --cacert ${flags.cacert}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** `-H key:value` (repeatable); keys lower-cased as metadata keys are. */
export function parseHeaders(headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of headers) {
    const colon = header.indexOf(':');
    const key = colon > 0 ? header.slice(0, colon).trim().toLowerCase() : '';
    if (!/^[a-z0-9_.-]+$/.test(key)) throw usage(`-H "${header}" is not key:value`, 'metadata keys are letters, digits, "-", "_" and ".": -H trellis-caller:ops');
    out[key] = header.slice(colon + 1).trim();
  }
  return out;
}

/** grpcs:// is TLS; a bare host:port with --cacert or --insecure is too, as with grpcurl's flags. */
export function usesTls(target: Target & { kind: 'address' }, flags: { readonly cacert?: string; readonly insecure?: boolean }): boolean {
  return target.scheme === 'grpcs' || (target.scheme === undefined && (flags.cacert !== undefined || flags.insecure === true));
}
