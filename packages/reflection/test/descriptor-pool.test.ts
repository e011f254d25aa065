import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as descriptor from 'protobufjs/ext/descriptor';
import t, { type Test } from 'tap';
import { DescriptorPool } from '../src/index.js';

/** Two files: one imports the other, uses a map, an extension and a nested type. */
function protos(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'base.proto'), `syntax = "proto2";
package shop.base;
message Money { optional int64 units = 1; extensions 100 to 200; }
`);
  writeFileSync(join(dir, 'cart.proto'), `syntax = "proto2";
package shop;
import "base.proto";
message Cart {
  message Line { optional string sku = 1; optional shop.base.Money price = 2; }
  repeated Line lines = 1;
  map<string, shop.base.Money> totals_by_currency = 2;
}
extend shop.base.Money { optional string currency_note = 101; }
service Carts { rpc Get (Cart) returns (Cart); }
`);
  return dir;
}

t.test('one FileDescriptorProto per file, with dependencies, qualified names and protoc map entries', async (t) => {
  const pool = DescriptorPool.fromFiles(['cart.proto'], [protos(t)]);
  t.same(pool.fileNames, ['cart.proto', 'base.proto'], 'files named as imported');
  t.same(pool.services, ['shop.Carts']);
  const [cart, base] = pool.fileWithDependencies('cart.proto')!.map((bytes) => descriptor.FileDescriptorProto.decode(bytes).toJSON() as Record<string, unknown>);
  t.equal(cart!.name, 'cart.proto');
  t.same(cart!.dependency, ['base.proto'], 'the import is listed');
  t.equal(base!.name, 'base.proto', 'followed by its dependency');
  const cartMessage = (cart!.messageType as Record<string, unknown>[]).find((m) => m.name === 'Cart')!;
  const fields = cartMessage.field as Record<string, unknown>[];
  t.equal(fields.find((f) => f.name === 'lines')!.typeName, '.shop.Cart.Line', 'nested type, fully qualified');
  t.equal(fields.find((f) => f.name === 'totals_by_currency')!.typeName, '.shop.Cart.TotalsByCurrencyEntry', 'map entry named as protoc does');
  const entry = (cartMessage.nestedType as Record<string, unknown>[]).find((n) => n.name === 'TotalsByCurrencyEntry')!;
  t.equal((entry.field as Record<string, unknown>[])[1]!.typeName, '.shop.base.Money', 'map value type qualified across files');
  t.equal(pool.fileContainingSymbol('shop.Cart.Line'), 'cart.proto');
  t.equal(pool.fileContainingSymbol('.shop.base.Money'), 'base.proto');
  t.equal(pool.fileContainingSymbol('shop.Carts.Get'), 'cart.proto', 'methods are symbols too');
  t.equal(pool.fileContainingExtension('shop.base.Money', 101), 'cart.proto', 'extensions are found by extendee and number');
  t.same(pool.extensionNumbers('shop.base.Money'), [101]);
  t.equal(pool.fileContainingSymbol('no.Such'), undefined);
  t.equal(pool.fileWithDependencies('nope.proto'), undefined);
});

t.test('unloadable files are a coded configuration error', async (t) => {
  t.throws(() => DescriptorPool.fromFiles(['missing.proto'], [protos(t)]), { code: 'ERR_REFLECTION_PROTO_LOAD_FAILED' });
});
