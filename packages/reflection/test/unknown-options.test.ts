import { join } from 'node:path';
import { loadProto } from '@trellis/codec-protobuf';
import t from 'tap';
import { DescriptorPool, NativeReflectionChannel, reflectionReplies } from '../src/index.js';

const FIXTURES = join(__dirname, 'fixtures');

t.test('reflection options refuse an unknown key with ERR_INVALID_OPTION and a did-you-mean hint', (t) => {
  const pool = DescriptorPool.of(loadProto('shop.proto', { keepCase: true, includeDirs: [FIXTURES] }));
  t.throws(() => reflectionReplies(pool, { service: () => [] } as never), {
    code: 'ERR_INVALID_OPTION', message: /reflection option "service".*did you mean "services"/,
  });
  t.throws(() => new NativeReflectionChannel({ host: '127.0.0.1', port: 1 }, { timeoutMS: 50 } as never), {
    code: 'ERR_INVALID_OPTION', message: /NativeReflectionChannel option "timeoutMS".*did you mean "timeoutMs"/,
  });
  t.doesNotThrow(() => new NativeReflectionChannel({ host: '127.0.0.1', port: 1 }, { timeoutMs: 50, metadata: { authorization: 'x' } }).close());
  t.end();
});
