import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpEndpointSettings {
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/**
 * The HTTP endpoint an orchestrator probes (Kubernetes readinessProbe, a load balancer's health
 * check): `GET path` answers 200 `SERVING` or 503 `NOT_SERVING`. It is up before the RPC server is
 * ready, so a probe gets a clear "not yet" instead of a refused connection.
 */
export class HealthHttpEndpoint {
  serving = false;
  private readonly server: Server;

  /** `status`, when given, decides each answer instead of `serving` (a worker group's primary). */
  constructor(private readonly settings: HttpEndpointSettings, private readonly status?: () => boolean) {
    this.server = createServer((request, response) => this.answer(request, response));
    // The RPC server is what keeps a provider alive; the health endpoint never does on its own.
    this.server.unref();
  }

  listen(): Promise<AddressInfo> {
    const { host, port } = this.settings;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new Error(`the @trellis/health HTTP endpoint cannot listen on ${host}:${port}: ${error.code ?? error.message}; choose another http.port`, { cause: error }));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo | undefined {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Probes use keep-alive; idle sockets would hold close() open.
      this.server.closeAllConnections();
    });
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== this.settings.path) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const serving = this.status ? this.status() : this.serving;
    const body = serving ? 'SERVING\n' : 'NOT_SERVING\n';
    response.writeHead(serving ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  }
}
