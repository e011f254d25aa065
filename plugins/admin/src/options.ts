import { invalidOption, rejectUnknownKeys } from '@trellis/core/spi';

export interface AdminOptions {
  /** HTTP port of the console; 0 picks a free one (read it from `plugin.url`). Default 0. */
  readonly port?: number;
  /** Interface to bind. Default `127.0.0.1`: the console is for operators on the machine (or an SSH tunnel). */
  readonly host?: string;
  /**
   * Bearer token every API request must carry (`Authorization: Bearer …`). Without it the read API is
   * open to whoever can reach `host` (loopback by default); writes always need `writeToken`.
   */
  readonly token?: string;
  /** Bearer token that may also write (save rule documents). Without it the console is read-only. */
  readonly writeToken?: string;
  /** Seconds of per-method history kept for the charts (default 300: the last 5 minutes). */
  readonly historySeconds?: number;
  /**
   * On a server: the console URL published in its instance documents (tag `trellis.admin`), so the
   * registry-wide console (`trellis console --registry …`) links each provider to its own console.
   * Default: the URL the console listens on; set it when operators reach the console through another
   * address (a tunnel, a proxy); `false` publishes nothing.
   */
  readonly advertiseUrl?: string | false;
}

export interface ResolvedAdminOptions {
  readonly port: number;
  readonly host: string;
  readonly token: string | undefined;
  readonly writeToken: string | undefined;
  readonly historySeconds: number;
  readonly advertiseUrl: string | false | undefined;
}

const KEYS: readonly (keyof AdminOptions)[] = ['port', 'host', 'token', 'writeToken', 'historySeconds', 'advertiseUrl'];

function tokenOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  // Short tokens are guessable over a loopback port in minutes; header-unsafe ones would never match.
  if (typeof value !== 'string' || value.length < 16 || !/^[\x21-\x7e]+$/.test(value)) {
    throw invalidOption(name, name === 'token' || name === 'writeToken' ? '(hidden)' : value, 'a string of at least 16 printable ASCII characters (e.g. crypto.randomBytes(24).toString("base64url"))');
  }
  return value;
}

export function resolveAdminOptions(options: AdminOptions): ResolvedAdminOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object');
  rejectUnknownKeys('admin', options, KEYS);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidOption('port', options.port, 'an integer from 0 to 65535');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw invalidOption('host', options.host, 'an interface address such as 127.0.0.1');
  const token = tokenOption('token', options.token);
  const writeToken = tokenOption('writeToken', options.writeToken);
  if (token !== undefined && writeToken !== undefined && token === writeToken) {
    throw invalidOption('writeToken', '(hidden)', 'a token other than `token` (the read token must not grant writes)');
  }
  const historySeconds = options.historySeconds ?? 300;
  if (!Number.isInteger(historySeconds) || historySeconds < 10 || historySeconds > 3600) {
    throw invalidOption('historySeconds', options.historySeconds, 'an integer from 10 to 3600');
  }
  const advertiseUrl = options.advertiseUrl;
  if (advertiseUrl !== undefined && advertiseUrl !== false && (typeof advertiseUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(advertiseUrl))) {
    throw invalidOption('advertiseUrl', advertiseUrl, 'an http:// or https:// URL, or false');
  }
  return { port, host, token, writeToken, historySeconds, advertiseUrl };
}
