import { join } from 'node:path';
import { loadProto } from '@trellis/codec-protobuf';
import { Code, MemoryRegistry, RpcServer, type InstanceInfo, type ServiceKey } from '@trellis/core';
import * as descriptor from 'protobufjs/ext/descriptor';
import t from 'tap';
import { addReflection, NativeReflectionChannel, ReflectionClient, reflectionDefinition } from '../src/index.js';

const FIXTURES = join(__dirname, 'fixtures');
const load = () => loadProto('shop.proto', { keepCase: true, includeDirs: [FIXTURES] });

/** A registry that remembers what was registered in it. */
class RecordingRegistry extends MemoryRegistry {
  readonly registered: string[] = [];

  override async register(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    this.registered.push(service.name);
    return super.register(service, instance);
  }
}

/**
 * Reflection on a plain RpcServer over the native protocol (real sockets on loopback): the client
 * lists the services, fetches files with their dependencies, gets NOT_FOUND for unknown symbols, and
 * the reflection services are served but never registered.
 */
t.test('addReflection serves v1 and v1alpha over the native protocol; the registry never lists them', async (t) => {
  const pkg = load();
  const registry = new RecordingRegistry();
  const server = new RpcServer({ host: '127.0.0.1', port: 0, registry }).addService(pkg.service('shop.Carts'), { get: (cart: unknown) => cart });
  addReflection(server, pkg);
  await server.start();
  t.teardown(() => server.close({ graceMs: 0 }));
  // 30 s per reflection request: no deadline is tested here, and a loaded CI machine can stall for seconds.
  const channel = new NativeReflectionChannel({ host: '127.0.0.1', port: server.port }, { timeoutMs: 30_000 });
  t.teardown(() => channel.close());

  const client = new ReflectionClient(channel.open);
  t.same(await client.listServices(), ['shop.Carts', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);
  t.equal(client.version, 'v1');
  const files = await client.filesFor(['shop.Carts']);
  t.same(files.map((f) => f.name), ['money.proto', 'shop.proto'], 'the service file and, before it, the file it imports');
  const shop = descriptor.FileDescriptorProto.decode(files[1]!.bytes).toJSON() as { service: { method: { inputType: string }[] }[] };
  t.equal(shop.service[0]!.method[0]!.inputType, '.shop.Cart');
  await t.rejects(client.fileContainingSymbol('shop.Nope'), { code: Code.NOT_FOUND, message: /symbol "shop.Nope" not found/ });
  client.close();

  // A client that only knows v1alpha (older grpc-go / grpc-java tools) gets the same answers.
  const alpha = new ReflectionClient((service) => channel.open(service.replace('.v1.', '.v1alpha.')));
  t.same((await alpha.fileContainingSymbol('shop.Cart')).map((f) => f.name), ['shop.proto', 'money.proto']);
  alpha.close();

  t.same(registry.registered, ['shop.Carts'], 'the application service is registered, reflection is not');
});

t.test('a server without reflection answers UNIMPLEMENTED for both versions', async (t) => {
  const pkg = load();
  const server = new RpcServer({ host: '127.0.0.1', port: 0 }).addService(pkg.service('shop.Carts'), { get: (cart: unknown) => cart });
  await server.start();
  t.teardown(() => server.close({ graceMs: 0 }));
  const channel = new NativeReflectionChannel({ host: '127.0.0.1', port: server.port }, { timeoutMs: 30_000 });
  t.teardown(() => channel.close());
  await t.rejects(new ReflectionClient(channel.open).listServices(), { code: Code.UNIMPLEMENTED });
  t.equal(reflectionDefinition('x.Y').methods['ServerReflectionInfo']!.kind, 'bidi-streaming');
});
