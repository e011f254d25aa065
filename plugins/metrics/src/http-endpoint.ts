import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkServeMetricsOptions } from './options.js';

export interface ServeMetricsOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /** Default `/metrics`. */
  readonly path?: string;
}

export interface MetricsServer {
  readonly port: number;
  /** `http://host:port/path`, with 127.0.0.1 for a wildcard host. */
  readonly url: string;
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Serves a registry in the Prometheus text format: GET (or HEAD) on `path`, 404 elsewhere, 405 for
 * other methods, 500 when collecting fails. Resolves once listening; rejects on EADDRINUSE and the like.
 */
export function serveMetrics(registry: { metrics(): Promise<string>; readonly contentType: string }, options: ServeMetricsOptions): Promise<MetricsServer> {
  checkServeMetricsOptions(options);
  const host = options.host ?? '0.0.0.0';
  const path = options.path ?? '/metrics';
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== path) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found; metrics are at ${path}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('use GET\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'Content-Type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: Error) => {
        response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${error.message}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        url: `http://${urlHost(host)}:${port}${path}`,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          // Keep-alive connections of a scraper would hold close() open.
          server.closeAllConnections();
        }),
      });
    });
  });
}
