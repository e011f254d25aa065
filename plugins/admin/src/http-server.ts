import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AdminApiError, AdminErrorCodes } from './errors.js';
import { applyConnectionLimits, DEFAULT_HTTP_LIMITS, httpServerOptions, type ConsoleHttpLimits } from './http-limits.js';

export type Role = 'read' | 'write';

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly role: Role;
  /** The parsed JSON body (POST / PUT), undefined otherwise. */
  readonly body: unknown;
}

/** Answers an API route with a JSON-serialisable value, or throws AdminApiError. */
export type ApiHandler = (request: ApiRequest) => unknown;

export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  /** Routes that change something need the write token. */
  readonly write?: boolean;
  readonly handler: ApiHandler;
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Where the page built by scripts/build-web.mjs lives: dist/web, both from src/ (tests) and dist/. */
const WEB_DIR = join(__dirname, '..', 'dist', 'web');
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/assets/app.js': 'app.js',
  '/assets/app.css': 'app.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/**
 * Every answer forbids framing and sniffing and allows scripts and styles from this origin only: with
 * everything the page renders escaped, an injected `<script>` or `onerror=` has nowhere to run.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison of a presented token (hashing first makes the lengths equal). */
function matches(presented: string, expected: Buffer | undefined): boolean {
  return expected !== undefined && timingSafeEqual(digest(presented), expected);
}

/** `127.0.0.1:9900`, `[::1]:9900`, `localhost:9900`: a Host header naming an address, not a DNS name. */
function addressedByIp(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || isIP(name) !== 0;
}

function sendJson(response: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', ...extra });
  response.end(body);
}

function sendError(response: ServerResponse, error: AdminApiError): void {
  const extra: Record<string, string> = error.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="trellis-admin"' } : error.status === 413 ? { Connection: 'close' } : {};
  sendJson(response, error.status, { error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } }, extra);
}

function readBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop keeping it and let the rest drain, so the 413 can still be answered.
        request.removeAllListeners('data');
        request.resume();
        reject(new AdminApiError(413, AdminErrorCodes.TOO_LARGE, `request bodies are limited to ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new AdminApiError(400, AdminErrorCodes.BAD_REQUEST, `the body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

export interface ConsoleServerOptions {
  readonly port: number;
  readonly host: string;
  readonly token: string | undefined;
  readonly writeToken: string | undefined;
  readonly routes: readonly ApiRoute[];
  /** Deadlines and the connection cap (default DEFAULT_HTTP_LIMITS: 5 s headers, 15 s request, 64 connections). */
  readonly limits?: ConsoleHttpLimits;
}

export interface ConsoleServer {
  readonly port: number;
  /** `http://host:port/` (no token in it). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The console's HTTP server: the page's three files, and the JSON API under /api with bearer-token
 * auth (no cookies, so no cross-site request can carry a credential) and coded JSON errors. Nothing
 * it answers contains either token.
 */
export function serveConsole(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const readToken = options.token === undefined ? undefined : digest(options.token);
  const writeToken = options.writeToken === undefined ? undefined : digest(options.writeToken);
  const assets = new Map<string, Buffer>();
  const asset = (name: string): Buffer | undefined => {
    let data = assets.get(name);
    if (data === undefined) {
      try {
        data = readFileSync(join(WEB_DIR, name));
      } catch {
        return undefined;
      }
      assets.set(name, data);
    }
    return data;
  };

  const roleOf = (request: IncomingMessage): Role => {
    const header = request.headers.authorization;
    if (header === undefined) {
      if (readToken === undefined) {
        // Open reads: only for requests addressed to an IP or localhost, so a web page whose own
        // name was rebound to 127.0.0.1 (DNS rebinding) cannot read the API from the user's browser.
        if (!addressedByIp(request.headers.host)) {
          throw new AdminApiError(403, AdminErrorCodes.FORBIDDEN, 'without a token the console answers requests addressed to an IP address or localhost only; set a token to use a host name');
        }
        return 'read';
      }
      throw new AdminApiError(401, AdminErrorCodes.UNAUTHENTICATED, 'this console needs a token: send Authorization: Bearer <token>');
    }
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (match === null) throw new AdminApiError(401, AdminErrorCodes.UNAUTHENTICATED, 'the Authorization header must be "Bearer <token>"');
    if (matches(match[1]!, writeToken)) return 'write';
    if (matches(match[1]!, readToken)) return 'read';
    throw new AdminApiError(401, AdminErrorCodes.UNAUTHENTICATED, 'the token is not valid for this console');
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://console.invalid');
    const method = request.method ?? 'GET';
    if (!url.pathname.startsWith('/api/')) {
      const name = ASSETS[url.pathname];
      if (name === undefined) throw new AdminApiError(404, AdminErrorCodes.NOT_FOUND, `no page at ${url.pathname}; the console is at /`);
      if (method !== 'GET' && method !== 'HEAD') throw new AdminApiError(405, AdminErrorCodes.METHOD_NOT_ALLOWED, 'use GET');
      const data = asset(name);
      if (data === undefined) throw new AdminApiError(500, AdminErrorCodes.INTERNAL, 'the console page is not built; run the @trellis/admin build');
      response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': TYPES[name.slice(name.lastIndexOf('.') + 1)]! });
      response.end(method === 'HEAD' ? undefined : data);
      return;
    }
    const candidates = options.routes.filter((r) => r.path === url.pathname);
    if (candidates.length === 0) throw new AdminApiError(404, AdminErrorCodes.NOT_FOUND, `no API at ${url.pathname}`);
    const route = candidates.find((r) => r.method === method);
    if (route === undefined) {
      throw new AdminApiError(405, AdminErrorCodes.METHOD_NOT_ALLOWED, `${url.pathname} answers ${candidates.map((r) => r.method).join(', ')}`);
    }
    const role = roleOf(request);
    if (route.write && role !== 'write') {
      throw new AdminApiError(403, AdminErrorCodes.FORBIDDEN, writeToken === undefined
        ? 'this console is read-only: start it with a writeToken to allow changes'
        : 'this token may read but not write; use the write token');
    }
    const body = method === 'GET' ? undefined : await readBody(request);
    const result = await route.handler({ method, path: url.pathname, query: url.searchParams, role, body });
    sendJson(response, 200, result);
  };

  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  const server: Server = createServer(httpServerOptions(limits), (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      sendError(response, error instanceof AdminApiError ? error : new AdminApiError(500, AdminErrorCodes.INTERNAL, `the console failed to answer: ${(error as Error)?.message ?? String(error)}`));
    });
  });
  applyConnectionLimits(server, limits);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const port = address.port;
      // The address it listens on when a JavaScript caller left `host` out (node:net's default, `::`):
      // this runs in a listen callback, where a throw would be uncaught and end the process.
      const listened = typeof options.host === 'string' ? options.host : address.address;
      const host = listened === '0.0.0.0' ? '127.0.0.1' : listened === '::' ? '[::1]' : listened.includes(':') ? `[${listened}]` : listened;
      resolve({
        port,
        url: `http://${host}:${port}/`,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
