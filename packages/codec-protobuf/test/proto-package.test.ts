import t from 'tap';
import * as path from 'node:path';
import { ErrorCodes, TrellisError, type ServiceDefinition } from '@trellis/core';
import { loadProto, loadProtoAsync, ProtoErrorCodes } from '../src/index.js';

const FIXTURES = path.join(__dirname, 'fixtures');
const ECHO_PROTO = path.join(__dirname, '..', '..', 'testkit', 'protos', 'echo.proto');
const RICH = path.join(FIXTURES, 'rich.proto');

t.test('EchoService: names, idempotency, options', async (t) => {
  const service: ServiceDefinition = loadProto(ECHO_PROTO).service('trellis.test.EchoService');
  t.equal(service.name, 'trellis.test.EchoService');
  t.same(Object.keys(service.methods), ['Echo', 'Mutate'], 'keyed by the .proto name');
  const { Echo, Mutate } = service.methods;
  t.match(Echo, { name: 'Echo', localName: 'echo', idempotent: true, requestType: 'trellis.test.EchoRequest', responseType: 'trellis.test.EchoReply' });
  t.match(Mutate, { name: 'Mutate', localName: 'mutate', idempotent: false });
  t.equal(Echo!.options['idempotency_level'], 'IDEMPOTENT');
  t.equal(Mutate!.options['idempotency_level'], 'IDEMPOTENCY_UNKNOWN');
  t.ok(Object.isFrozen(service.methods) && Object.isFrozen(Echo) && Object.isFrozen(Echo!.options));
});

t.test('NO_SIDE_EFFECTS is idempotent; custom and deprecated options are kept', async (t) => {
  const rich = loadProto(RICH).service('rich.v1.RichService');
  t.match(rich.methods['Get'], { idempotent: true, options: { idempotency_level: 'NO_SIDE_EFFECTS', deprecated: true, '(rich.v1.route)': '/rich/get' } });
  t.match(rich.methods['Put'], { idempotent: true, responseType: 'rich.v1.Rich.Nested' });
  t.match(rich.methods['Delete'], { idempotent: false, options: { deprecated: false } });
});

t.test('streaming methods are in methods with their kind, and listed', async (t) => {
  const rich = loadProto(RICH).service('rich.v1.RichService');
  t.same(Object.keys(rich.methods), ['Get', 'Put', 'Delete', 'Watch', 'Upload', 'Chat']);
  t.same(Object.values(rich.methods).map((method) => method.kind), ['unary', 'unary', 'unary', 'server-streaming', 'client-streaming', 'bidi-streaming']);
  t.match(rich.methods['Watch'], { localName: 'watch', requestType: 'rich.v1.Rich', responseType: 'rich.v1.Rich' });
  t.same(rich.streamingMethods, ['Watch', 'Upload', 'Chat']);
});

t.test('localName is lowerCamel as grpc-js has it', async (t) => {
  t.equal(loadProto(RICH).service('rich.v1.OtherService').methods['GetHTTPStatus']!.localName, 'getHttpStatus');
});

t.test('services lists every service; a leading dot is accepted', async (t) => {
  const pkg = loadProto(RICH);
  t.same(pkg.services.map((service) => service.name), ['rich.v1.RichService', 'rich.v1.OtherService']);
  t.equal(pkg.service('.rich.v1.OtherService'), pkg.services[1]);
  t.equal(pkg.message('.rich.v1.Inner'), pkg.message('rich.v1.Inner'), 'one codec per type');
});

t.test('an unknown service throws ERR_SERVICE_INVALID listing the services there are', async (t) => {
  const pkg = loadProto(RICH);
  const error = t.throws(() => pkg.service('rich.v1.Missing')) as TrellisError;
  t.type(error, TrellisError);
  t.equal(error.code, ErrorCodes.SERVICE_INVALID);
  t.match(error.message, /"rich\.v1\.Missing".*rich\.proto.*rich\.v1\.RichService, rich\.v1\.OtherService/);
  t.throws(() => pkg.service('RichService'), { code: 'ERR_SERVICE_INVALID' }, 'short names are not guessed');
});

t.test('an unknown message throws ERR_PROTO_MESSAGE_UNKNOWN', async (t) => {
  const pkg = loadProto(RICH);
  t.throws(() => pkg.message('rich.v1.Nope'), { code: ProtoErrorCodes.MESSAGE_UNKNOWN, message: /"rich\.v1\.Nope"/ });
  t.throws(() => pkg.message('rich.v1.RichService'), { code: ProtoErrorCodes.MESSAGE_UNKNOWN }, 'a service is not a message');
  t.throws(() => pkg.message('Inner'), { code: ProtoErrorCodes.MESSAGE_UNKNOWN }, 'short names are not guessed');
});

t.test('includeDirs resolve the file and its imports, as in proto-loader', async (t) => {
  const pkg = loadProto('uses-include.proto', { includeDirs: [FIXTURES, path.join(FIXTURES, 'include')] });
  t.same(Object.keys(pkg.service('inc.PingService').methods), ['Ping']);
  const ping = pkg.message<{ note: string }>('shared.Ping');
  t.equal(ping.decode(ping.encode({ note: 'n' })).note, 'n');
});

t.test('load failures throw ERR_PROTO_LOAD_FAILED with the file and the reason', async (t) => {
  t.throws(() => loadProto(path.join(FIXTURES, 'missing.proto')), { code: ProtoErrorCodes.LOAD_FAILED, message: /missing\.proto.*ENOENT/ });
  t.throws(() => loadProto(path.join(FIXTURES, 'broken.proto')), { code: ProtoErrorCodes.LOAD_FAILED, message: /broken\.proto.*illegal token/ });
  t.throws(() => loadProto(path.join(FIXTURES, 'uses-include.proto')), { code: ProtoErrorCodes.LOAD_FAILED, message: /no includeDirs/ });
  t.throws(() => loadProto(RICH, { includeDirs: FIXTURES as unknown as string[] }), { code: ErrorCodes.INVALID_OPTION });
  await t.rejects(loadProtoAsync(path.join(FIXTURES, 'missing.proto')), { code: ProtoErrorCodes.LOAD_FAILED });
});

t.test('methods whose lowerCamel names collide are refused at load', async (t) => {
  t.throws(() => loadProto(path.join(FIXTURES, 'clash.proto')), { code: ErrorCodes.SERVICE_INVALID, message: /"GetUser" and "Get_User".*"getUser"/ });
});

t.test('loadProtoAsync gives the same package', async (t) => {
  const pkg = await loadProtoAsync([ECHO_PROTO]);
  const service = pkg.service('trellis.test.EchoService');
  t.equal(service.methods['Echo']!.idempotent, true);
  const codec = service.methods['Echo']!.requestCodec;
  t.match(codec.decode(codec.encode({ id: '5' })), { id: '5' });
});

t.test('includeDirs given as a string is refused by core\'s one bad-option factory', (t) => {
  t.throws(() => loadProto(path.join(__dirname, 'fixtures', 'none.proto'), { includeDirs: 'protos' as never }), {
    name: 'TrellisError',
    code: ErrorCodes.INVALID_OPTION,
    message: 'option "includeDirs" is "protos"; expected an array of directories',
    path: 'includeDirs',
  });
  t.end();
});
