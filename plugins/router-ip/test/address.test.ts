import t from 'tap';
import { AddressSet, parseAddressPattern, parseIp } from '../src/index.js';

t.test('IPv4 and IPv6 literals parse to numbers; mapped IPv4 counts as IPv4', (t) => {
  t.same(parseIp('10.0.0.1'), { family: 4, value: 0x0a000001n });
  t.same(parseIp('::1'), { family: 6, value: 1n });
  t.same(parseIp('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
  t.same(parseIp('::ffff:10.0.0.1'), { family: 4, value: 0x0a000001n });
  t.same(parseIp('2001:db8::ffff:1.2.3.4'), { family: 6, value: (0x2001n << 112n) | (0xdb8n << 96n) | (0xffffn << 32n) | 0x01020304n });
  t.equal(parseIp('localhost'), undefined);
  t.equal(parseIp('10.0.0.256'), undefined);
  t.end();
});

t.test('patterns: CIDR blocks, exact addresses, addresses with ports', (t) => {
  t.match(parseAddressPattern('10.0.0.0/8'), { family: 4, base: 0x0a000000n, prefix: 8, port: undefined });
  t.match(parseAddressPattern('10.1.2.3'), { family: 4, base: 0x0a010203n, prefix: 32 });
  t.match(parseAddressPattern('10.1.2.3:8080'), { family: 4, prefix: 32, port: 8080 });
  t.match(parseAddressPattern('[::1]:50051'), { family: 6, base: 1n, prefix: 128, port: 50051 });
  t.match(parseAddressPattern('fd00::/8'), { family: 6, prefix: 8 });
  t.match(parseAddressPattern('::ffff:10.0.0.0/104'), { family: 4, base: 0x0a000000n, prefix: 8 });
  t.match(parseAddressPattern('0.0.0.0/0'), { family: 4, prefix: 0 });
  t.end();
});

t.test('bad patterns say what is wrong', (t) => {
  t.match(parseAddressPattern('db.internal'), /expected an IP address, a CIDR block .* got "db.internal"/);
  t.match(parseAddressPattern('10.1.2.3/16'), /"10.1.2.3\/16" has host bits set; the block is 10.1.0.0\/16/);
  t.match(parseAddressPattern('fd00::1/8'), /"fd00::1\/8" has host bits set; the block is fd00::\/8/);
  t.match(parseAddressPattern('2001:db8:0:1::5/64'), /the block is 2001:db8:0:1::\/64/);
  t.match(parseAddressPattern('2001:db8:1:2:3:4:5:7/127'), /the block is 2001:db8:1:2:3:4:5:6\/127/);
  t.match(parseAddressPattern('10.0.0.0/33'), /prefix length \/33 is longer than an IPv4 address \(32 bits\)/);
  t.match(parseAddressPattern('10.0.0.0/x'), /prefix length in "10.0.0.0\/x" is not a number/);
  t.match(parseAddressPattern('10.0.0.1:0'), /port 0 in "10.0.0.1:0" is not in 1..65535/);
  t.match(parseAddressPattern('[::1/128]:80'), /has both a prefix length and a port/);
  t.end();
});

t.test('sets match by block, by exact address, and by address and port', (t) => {
  const set = AddressSet.parse(['10.1.0.0/16', '192.168.1.7', '127.0.0.1:7000', 'fd00::/8']);
  t.ok(set.has('10.1.255.3'));
  t.notOk(set.has('10.2.0.1'));
  t.ok(set.has('192.168.1.7', 1234), 'an exact address without port matches any port');
  t.notOk(set.has('192.168.1.8'));
  t.ok(set.has('127.0.0.1', 7000));
  t.notOk(set.has('127.0.0.1', 7001), 'a pattern with a port matches that port only');
  t.notOk(set.has('127.0.0.1'), 'and needs one');
  t.ok(set.has('fd12:3456::1'));
  t.ok(set.has('::ffff:10.1.0.9'), 'mapped IPv4 matches IPv4 blocks');
  t.notOk(set.has('localhost'), 'names never match');
  t.ok(AddressSet.parse(['0.0.0.0/0']).has('8.8.8.8'));
  t.notOk(AddressSet.parse(['0.0.0.0/0']).has('::1'), 'families do not mix');
  t.equal(String(set), '10.1.0.0/16, 192.168.1.7, 127.0.0.1:7000, fd00::/8');
  t.end();
});
