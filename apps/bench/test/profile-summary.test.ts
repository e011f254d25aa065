import t from 'tap';
import { categoryOf, summarizeCpu, summarizeHeap, type CpuProfile } from '../src/profile-summary.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

t.test('frames are filed under the package their script belongs to', async (t) => {
  t.equal(categoryOf(frame('send', 'file:///w/packages/core/dist/client/rpc-client.js')), 'kernel');
  t.equal(categoryOf(frame('push', 'file:///w/packages/core/dist/transport/frame-decoder.js')), 'kernel: transport');
  t.equal(categoryOf(frame('decode', 'file:///w/packages/codec-protobuf/dist/message-codec.js')), 'codec-protobuf');
  t.equal(categoryOf(frame('read', 'file:///w/node_modules/.pnpm/protobufjs@7.5.4/node_modules/protobufjs/src/reader.js')), 'protobufjs');
  t.equal(categoryOf(frame('EchoRequest$decode')), 'protobufjs');
  t.equal(categoryOf(frame('EchoRequest$toObject')), 'fromObject/toObject');
  t.equal(categoryOf(frame('pick', 'file:///w/plugins/lb-lalb/dist/lalb.js')), 'plugin: lb-lalb');
  t.equal(categoryOf(frame('writeOrBuffer', 'node:internal/streams/writable')), 'node: net + streams');
  t.equal(categoryOf(frame('processTicksAndRejections', 'node:internal/process/task_queues')), 'node: ticks + callbacks');
  t.equal(categoryOf(frame('concat', 'node:buffer')), 'node: Buffer');
  t.equal(categoryOf(frame('now', 'node:internal/perf/performance')), 'node: perf_hooks');
  t.equal(categoryOf(frame('(garbage collector)')), 'GC');
  t.equal(categoryOf(frame('set')), undefined, 'a builtin has no package of its own');
});

t.test('CPU self time: builtins charged to their JS caller, idle left out of busy time, per call', async (t) => {
  // 100 samples over 10 ms (100 µs each): kernel 20 (+ 10 in Map#set it calls), GC 30, idle 40.
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)'), hitCount: 0, children: [2, 4, 5] },
      { id: 2, callFrame: frame('call', 'file:///w/packages/core/dist/transport/client-connection.js', 99), hitCount: 20, children: [3] },
      { id: 3, callFrame: frame('set'), hitCount: 10, children: [] },
      { id: 4, callFrame: frame('(garbage collector)'), hitCount: 30, children: [] },
      { id: 5, callFrame: frame('(idle)'), hitCount: 40, children: [] },
    ],
  };
  const summary = summarizeCpu(profile, 100);
  t.equal(summary.total, 10);
  t.equal(summary.busy, 6);
  const kernel = summary.categories.find((c) => c.name === 'kernel: transport')!;
  t.equal(kernel.total, 3, 'the builtin counts for the kernel');
  t.equal(kernel.perCall, 30, '3 ms over 100 calls');
  t.equal(kernel.share, 50);
  t.equal(summary.categories.find((c) => c.name === 'GC')!.perCall, 30);
  t.notOk(summary.categories.some((c) => c.name === 'idle'));
  t.ok(summary.functions.some((f) => f.name === 'set native ← call'), 'the builtin is named with its caller');
  t.ok(summary.functions.some((f) => f.name === 'call client-connection.js:100'));
});

t.test('with the main thread\'s measured CPU, busy samples share that instead of wall time', async (t) => {
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)'), hitCount: 0, children: [2, 3] },
      { id: 2, callFrame: frame('push', 'file:///w/packages/core/dist/transport/frame-decoder.js'), hitCount: 30, children: [] },
      { id: 3, callFrame: frame('(idle)'), hitCount: 70, children: [] },
    ],
  };
  // 30 busy samples, but the thread was on a CPU for 1.5 ms only (preempted the rest of its busy time).
  const summary = summarizeCpu(profile, 10, 20, 1500);
  t.equal(summary.busy, 1.5);
  t.equal(summary.categories[0]!.perCall, 150);
  t.equal(summarizeCpu(profile, 10).categories[0]!.perCall, 300, 'without it: 30 samples × 100 µs');
});

t.test('allocations: bytes per call by package', async (t) => {
  const summary = summarizeHeap({
    head: {
      callFrame: frame('(root)'), selfSize: 0, children: [
        { callFrame: frame('encode', 'file:///w/node_modules/protobufjs/src/writer.js'), selfSize: 6000, children: [] },
        { callFrame: frame('call', 'file:///w/packages/core/dist/client/rpc-client.js'), selfSize: 2000, children: [
          { callFrame: frame('Promise'), selfSize: 2000, children: [] },
        ] },
      ],
    },
  }, 10);
  t.equal(summary.total, 10_000);
  t.equal(summary.categories.find((c) => c.name === 'protobufjs')!.perCall, 600);
  t.equal(summary.categories.find((c) => c.name === 'kernel')!.perCall, 400, 'the promise the kernel allocates is the kernel\'s');
});
