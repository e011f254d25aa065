import t from 'tap';
import {
  GrpcClient, GrpcClientTransport, GrpcServer, GrpcServerTransport, GrpcServiceRegistry, HealthStatusSource, ReflectionClient, standardServices,
} from '../src/index.js';

// A misspelt option used to be ignored in silence (the default stayed in place): every options
// object of the gRPC engine and its kernel transports refuses a key it does not know, at
// construction, naming the key and the one it was probably meant to be.

t.test('GrpcServerTransport refuses an unknown key at construction, with a did-you-mean hint', async (t) => {
  t.throws(() => new GrpcServerTransport({ maxRecieveMessageSize: 1 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"maxRecieveMessageSize".*did you mean "maxReceiveMessageSize"/,
  });
  // Values are checked at construction too, not at the first listen().
  t.throws(() => new GrpcServerTransport({ maxConnections: 0 }), { code: 'ERR_INVALID_OPTION', message: /maxConnections/ });
  t.throws(() => new GrpcServerTransport({ maxSendMessageSize: -1 }), { code: 'ERR_INVALID_OPTION', message: /maxSendMessageSize/ });
  // Its own keys and the pass-through objects stay accepted.
  t.doesNotThrow(() => new GrpcServerTransport({ services: new GrpcServiceRegistry(), maxSendMessageSize: Infinity, settings: { initialWindowSize: 1 << 20 }, tls: undefined }));
});

t.test('GrpcServer refuses an unknown key', async (t) => {
  t.throws(() => new GrpcServer(new GrpcServiceRegistry(), { keepAliveTimeMs: 1 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"keepAliveTimeMs".*did you mean "keepaliveTimeMs"/,
  });
});

t.test('GrpcClientTransport and GrpcClient refuse an unknown key', async (t) => {
  t.throws(() => new GrpcClientTransport({ connectTimeoutMS: 10 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"connectTimeoutMS".*did you mean "connectTimeoutMs"/,
  });
  t.throws(() => new GrpcClient({ conectionsPerTarget: 2 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"conectionsPerTarget".*did you mean "connectionsPerTarget"/,
  });
  t.throws(() => new GrpcClientTransport({ backoff: { initalMs: 5 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"backoff\.initalMs".*did you mean "initialMs"/,
  });
  const transport = new GrpcClientTransport({ useTls: () => false, connectionsPerTarget: 2, maxSendMessageSize: Infinity });
  t.ok(transport.client instanceof GrpcClient, 'the transport hands its client options on without useTls');
  transport.client.close();
});

t.test('standardServices and ReflectionClient refuse an unknown key', async (t) => {
  // `helth` ignored would serve no health service at all, in silence.
  t.throws(() => standardServices({ helth: new HealthStatusSource() } as never), {
    code: 'ERR_INVALID_OPTION', message: /standardServices option "helth".*did you mean "health"/,
  });
  t.doesNotThrow(() => standardServices({ health: new HealthStatusSource() }));
  const client = new GrpcClient();
  t.throws(() => new ReflectionClient(client, '127.0.0.1:1', { timeoutMS: 10 } as never), {
    code: 'ERR_INVALID_OPTION', message: /ReflectionClient option "timeoutMS".*did you mean "timeoutMs"/,
  });
  client.close();
});
