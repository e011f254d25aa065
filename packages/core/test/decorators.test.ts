import 'reflect-metadata';
import t from 'tap';
import { container, injectable } from 'tsyringe';
import {
  MemoryRegistry, provideReferences, RpcMethod, RpcReference, RpcServer, RpcService, type ServerInvocation,
} from '../src/index.js';
import { instanceDocument, parseInstance } from '../src/spi.js';
import { ECHO } from './fixtures/json-service.js';

@RpcService('test.Echo', { version: '1.2.0', group: 'blue' })
class EchoProvider {
  @RpcMethod({ idempotent: true, timeoutMs: 50 })
  async echo(request: { message: string; delayMs?: number }, call: ServerInvocation) {
    if (request.delayMs) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, request.delayMs);
        call.signal.addEventListener('abort', () => { clearTimeout(timer); reject(call.signal.reason); });
      });
    }
    return { message: `${request.message} from ${call.service.group}/${call.service.version}` };
  }

  async mutate(request: unknown) {
    return request;
  }
}

interface EchoClient {
  echo(request: { message: string; delayMs?: number }): Promise<{ message: string }>;
}

@injectable()
class Frontend {
  constructor(@RpcReference('test.Echo', { group: 'blue', version: '^1.0.0' }) private readonly echo: EchoClient) {}
  greet(name: string) {
    return this.echo.echo({ message: name });
  }
  slow() {
    return this.echo.echo({ message: 'slow', delayMs: 5000 });
  }
}

t.test('decorated provider and an injected typed reference talk over the network', async (t) => {
  const registry = new MemoryRegistry();
  const server = new RpcServer({ host: '127.0.0.1', registry });
  server.addService(ECHO, new EchoProvider());
  await server.start();
  const scope = container.createChildContainer();
  const references = provideReferences(scope, { registry, services: [ECHO] });
  t.teardown(async () => { await references.close(); await server.close(); });
  const frontend = scope.resolve(Frontend);
  t.same(await frontend.greet('ada'), { message: 'ada from blue/1.2.0' }, '@RpcService gave group and version');
  await t.rejects(frontend.slow(), { code: 4 }, '@RpcMethod timeoutMs caps the handler on the server');
  t.equal(references.clients.length, 1);
  t.same(
    references.clients[0]!.endpoints.map((e) => e.methods),
    [{ Echo: { idempotent: true } }],
    '@RpcMethod({ idempotent }) is published with the instance, by wire name, and reaches the consumer',
  );
});

t.test('method declarations in registry documents are parsed defensively', (t) => {
  const base = { host: 'h', port: 1 };
  const parse = (methods: unknown) => parseInstance(JSON.stringify({ ...base, methods }));
  t.same(parse({ A: { idempotent: true }, B: { idempotent: false } })?.methods, { A: { idempotent: true }, B: { idempotent: false } });
  t.equal(parse({ A: { idempotent: 'yes' }, B: null, C: 3 })?.methods, undefined, 'wrong types are dropped');
  t.equal(parse(['A'])?.methods, undefined);
  t.equal(parseInstance(JSON.stringify(base))?.methods, undefined, 'absent stays absent');
  const doc = JSON.parse(instanceDocument({ ...base, weight: 1, version: '1', tags: {}, protocol: 'trellis', startedAt: 0, methods: { A: { idempotent: true } }, extra: 1 } as never));
  t.same(doc.methods, { A: { idempotent: true } }, 'the document carries them');
  t.equal(doc.extra, undefined, 'and nothing that is not published');
  t.end();
});

t.test('a reference to a service nobody described fails with a coded error', async (t) => {
  @injectable()
  class Lost {
    constructor(@RpcReference('test.Unknown') readonly svc: unknown) {}
  }
  const scope = container.createChildContainer();
  const references = provideReferences(scope, { registry: new MemoryRegistry(), services: [ECHO] });
  t.throws(() => scope.resolve(Lost), { message: /test\.Unknown/ });
  await references.close();
});
