import 'reflect-metadata';
import t from 'tap';
import { container } from 'tsyringe';
import { BACKOFF_OPTIONS_SCHEMA, parseOptions } from '@trellis/core/toolkit';
import { MemoryRegistry, provideReferences, RpcClient, RpcServer, TcpClientTransport, TcpServerTransport } from '../src/index.js';
import { ECHO } from './fixtures/json-service.js';

// A misspelt transport option used to be ignored in silence (the default stayed in place): the
// native transports refuse keys they do not know, naming the key and the one it was probably meant
// to be. `tls` stays open: node:tls owns its keys.

t.test('TcpServerTransport refuses an unknown key, in its limits too', (t) => {
  t.throws(() => new TcpServerTransport({ maxConection: 5 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"maxConection".*did you mean "maxConnections"/,
  });
  t.throws(() => new TcpServerTransport({ limits: { maxBodySise: 1024 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"limits\.maxBodySise".*did you mean "maxBodySize"/,
  });
  t.doesNotThrow(() => new TcpServerTransport({ maxConnections: 5, limits: { maxBodySize: 1024 }, tls: undefined }));
  t.end();
});

t.test('RpcServer({ tcp }) with an unknown key fails at construction with the coded error', (t) => {
  t.throws(() => new RpcServer({ host: '127.0.0.1', port: 0, tcp: { idleTimeoutMS: 10 } as never }), {
    code: 'ERR_INVALID_OPTION', message: /"idleTimeoutMS".*did you mean "idleTimeoutMs"/,
  });
  t.end();
});

t.test('TcpClientTransport refuses an unknown key, in its backoff too', (t) => {
  t.throws(() => new TcpClientTransport({ connectTimeoutMS: 10 } as never), {
    code: 'ERR_INVALID_OPTION', message: /"connectTimeoutMS".*did you mean "connectTimeoutMs"/,
  });
  t.throws(() => new TcpClientTransport({ backoff: { maxMS: 10 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"backoff\.maxMS".*did you mean "maxMs"/,
  });
  t.throws(() => new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], tcp: { streamWindw: 4096 } as never }), {
    code: 'ERR_INVALID_OPTION', message: /"streamWindw".*did you mean "streamWindow"/,
  });
  t.end();
});

t.test('the toolkit\'s BACKOFF_OPTIONS_SCHEMA refuses a misspelt backoff key with a hint', (t) => {
  t.throws(() => parseOptions(BACKOFF_OPTIONS_SCHEMA, { initalMs: 5 }, 'demo'), {
    code: 'ERR_INVALID_OPTION', message: /demo option "initalMs".*did you mean "initialMs"/,
  });
  t.doesNotThrow(() => parseOptions(BACKOFF_OPTIONS_SCHEMA, { initialMs: 5, maxMs: 50, multiplier: 2, jitter: 0.1 }));
  t.end();
});

t.test('provideReferences refuses an unknown key (a misspelt `defaults` would be lost in silence)', (t) => {
  t.throws(() => provideReferences(container.createChildContainer(), { registry: new MemoryRegistry(), services: [ECHO], default: { timeoutMs: 50 } } as never), {
    code: 'ERR_INVALID_OPTION', message: /"default".*did you mean "defaults"/,
  });
  t.end();
});
