import 'reflect-metadata';
import t, { type Test } from 'tap';
import { container, injectable } from 'tsyringe';
import {
  definePlugin, MemoryRegistry, provideReferences, referenceToken, RpcMethod, RpcReference, RpcServer, RpcService, type ServerInvocation,
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

/** A plugin that counts the attempts its client sends (through the kernel's attempt hook). */
function counting(name: string) {
  const seen = { attempts: 0 };
  const plugin = definePlugin({
    meta: { name, kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.observe({ attemptEnd: () => { seen.attempts++; } });
    },
  });
  return { plugin, seen };
}

async function echoServer(t: Test) {
  const registry = new MemoryRegistry();
  const server = new RpcServer({ host: '127.0.0.1', registry });
  server.addService(ECHO, new EchoProvider());
  await server.start();
  t.teardown(() => server.close());
  return registry;
}

t.test('two references to one service with different plugins get two clients, each with its own plugins', async (t) => {
  const registry = await echoServer(t);
  const a = counting('test-count-a');
  const b = counting('test-count-b');
  @injectable()
  class WithA {
    constructor(@RpcReference('test.Echo', { group: 'blue', plugins: [a.plugin] }) readonly echo: EchoClient) {}
  }
  @injectable()
  class WithB {
    constructor(@RpcReference('test.Echo', { group: 'blue', plugins: [b.plugin] }) readonly echo: EchoClient) {}
  }
  const scope = container.createChildContainer();
  const references = provideReferences(scope, { registry, services: [ECHO] });
  t.teardown(() => references.close());
  await scope.resolve(WithA).echo.echo({ message: 'a' });
  await scope.resolve(WithB).echo.echo({ message: 'b' });
  await scope.resolve(WithB).echo.echo({ message: 'b' });
  t.equal(references.clients.length, 2, 'one client per declaration');
  t.same([a.seen.attempts, b.seen.attempts], [1, 2], 'each declaration’s calls went through its own plugin only');
});

t.test('timeoutMs and methods are part of a reference’s identity', (t) => {
  t.not(referenceToken('test.Echo', { timeoutMs: 100 }), referenceToken('test.Echo', { timeoutMs: 200 }));
  t.not(referenceToken('test.Echo', { methods: { echo: { idempotent: true } } }), referenceToken('test.Echo', {}));
  t.equal(
    referenceToken('test.Echo', { methods: { a: { idempotent: true, timeoutMs: 5 } }, loadBalancer: 'random' }),
    referenceToken('test.Echo', { loadBalancer: 'random', methods: { a: { timeoutMs: 5, idempotent: true } } }),
    'key order does not matter',
  );
  t.not(referenceToken('test.Echo', { id: 'x' }), referenceToken('test.Echo', {}));
  t.end();
});

t.test('two declarations that differ only in plugin instances are refused with a coded error naming the way out', async (t) => {
  const registry = await echoServer(t);
  const first = counting('test-count-same');
  const second = counting('test-count-same');
  @injectable()
  class First {
    constructor(@RpcReference('test.Echo', { group: 'blue', plugins: [first.plugin] }) readonly echo: EchoClient) {}
  }
  @injectable()
  class Second {
    constructor(@RpcReference('test.Echo', { group: 'blue', plugins: [second.plugin] }) readonly echo: EchoClient) {}
  }
  @injectable()
  class Named {
    constructor(@RpcReference('test.Echo', { group: 'blue', plugins: [second.plugin], id: 'second' }) readonly echo: EchoClient) {}
  }
  const scope = container.createChildContainer();
  const references = provideReferences(scope, { registry, services: [ECHO] });
  t.teardown(() => references.close());
  await scope.resolve(First).echo.echo({ message: 'x' });
  t.throws(() => scope.resolve(Second), { message: /ERR_REFERENCE_CONFLICT: @RpcReference\('test\.Echo'\) is declared twice.*different plugin instances \(test-count-same\).*id/ });
  t.equal(references.clients.length, 1, 'the refused declaration created no client');
  await scope.resolve(Named).echo.echo({ message: 'y' });
  t.same([first.seen.attempts, second.seen.attempts], [1, 1], 'with an id, the second declaration has its own client and plugin');
  t.equal(references.clients.length, 2);
});

t.test('equal declarations share one client', async (t) => {
  const registry = await echoServer(t);
  const shared = { group: 'blue', timeoutMs: 2000 } as const;
  @injectable()
  class One {
    constructor(@RpcReference('test.Echo', shared) readonly echo: EchoClient) {}
  }
  @injectable()
  class Two {
    constructor(@RpcReference('test.Echo', { timeoutMs: 2000, group: 'blue' }) readonly echo: EchoClient) {}
  }
  const scope = container.createChildContainer();
  const references = provideReferences(scope, { registry, services: [ECHO] });
  t.teardown(() => references.close());
  t.equal(scope.resolve(One).echo, scope.resolve(Two).echo, 'the same stub');
  t.equal(references.clients.length, 1);
});

t.test('the reference table belongs to the container given to provideReferences', async (t) => {
  const registry = await echoServer(t);
  const left = container.createChildContainer();
  const right = container.createChildContainer();
  const leftRefs = provideReferences(left, { registry, services: [ECHO] });
  const rightRefs = provideReferences(right, { registry, services: [ECHO] });
  t.teardown(async () => { await leftRefs.close(); await rightRefs.close(); });
  // Declared after provideReferences ran: the containers still serve it.
  @injectable()
  class Late {
    constructor(@RpcReference('test.Echo', { group: 'blue', version: '^1.0.0' }) readonly echo: EchoClient) {}
  }
  t.same(await left.resolve(Late).echo.echo({ message: 'l' }), { message: 'l from blue/1.2.0' });
  t.equal(leftRefs.clients.length, 1);
  t.equal(rightRefs.clients.length, 0, 'the other container created nothing');
  t.not(right.resolve(Late).echo, left.resolve(Late).echo, 'each container has its own client');
  t.equal(left.createChildContainer().resolve(Late).echo, left.resolve(Late).echo, 'a child container uses its parent’s table');
  t.equal(rightRefs.clients.length, 1);
});
