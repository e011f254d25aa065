import t from 'tap';
import { guideSteps, normalizeTranscript, parseCommandLine } from '../src/index.js';

const GUIDE = `# A guide
## Setup
\`\`\`sh
npm run build   # for the reader only: no "# in" line
\`\`\`
\`\`\`sh
# in the Trellis repository
pnpm pack
\`\`\`
\`\`\`sh
# in my-app
npm init -y

npx tsc
\`\`\`
\`\`\`ts
// file: src/a.ts
export const a = 1;
\`\`\`
## Run
\`\`\`sh
# in my-app, one terminal per line (they keep running)
PORT=50051 node dist/provider.js
\`\`\`
<!-- test: needs redactErrors -->
\`\`\`console
$ node dist/consumer.js
first
$ node dist/other.js
\`\`\`
`;

t.test('a guide becomes files, scripts, processes and transcripts, in order', async (t) => {
  t.same(guideSteps(GUIDE), [
    { kind: 'run', section: 'Setup', line: 6, where: 'repository', script: 'pnpm pack' },
    { kind: 'run', section: 'Setup', line: 10, where: 'app', script: 'npm init -y\nnpx tsc' },
    { kind: 'file', section: 'Setup', line: 16, path: 'src/a.ts', content: '// file: src/a.ts\nexport const a = 1;\n' },
    { kind: 'start', section: 'Run', line: 21, commands: ['PORT=50051 node dist/provider.js'] },
    { kind: 'transcript', section: 'Run', line: 26, command: 'node dist/consumer.js', expected: ['first'], note: 'needs redactErrors' },
    { kind: 'transcript', section: 'Run', line: 26, command: 'node dist/other.js', expected: [], note: 'needs redactErrors' },
  ]);
});

t.test('a "# in" line the runner does not know is an error, not a skipped step', async (t) => {
  t.throws(() => guideSteps('```sh\n# in my app\nnpm test\n```\n'), /line 1: "# in my app" is not one of/);
  t.throws(() => guideSteps('```console\nhello\n```\n'), /line 1: a console block starts with "\$ command"/);
});

t.test('command lines: assignments, then the command; nothing a shell would interpret', async (t) => {
  t.same(parseCommandLine('ETCD_ENDPOINTS=http://127.0.0.1:2379 PORT=50051  node dist/provider.js'), {
    env: { ETCD_ENDPOINTS: 'http://127.0.0.1:2379', PORT: '50051' },
    command: 'node',
    args: ['dist/provider.js'],
  });
  for (const line of ['node a.js | tee log', 'PORT=$P node a.js', 'node a.js &', "node -e 'x'", 'A=1']) {
    t.throws(() => parseCommandLine(line), /needs a shell|has no command/, line);
  }
});

t.test('transcripts: pids and error ids are placeholders, the rest must match', async (t) => {
  t.same(normalizeTranscript(['served by pid 4101', 'UNKNOWN: internal error (id 5f0c9a1e) [trellis-error-id 5f0c9a1e]', 'port 50051']), [
    'served by pid <pid>', 'UNKNOWN: internal error (id <id>) [trellis-error-id <id>]', 'port 50051',
  ]);
});
