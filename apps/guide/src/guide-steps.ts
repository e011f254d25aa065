import { docSnippets } from '@trellis/testkit';

/** What following a guide means, block by block, in the order the page gives them. */
export type GuideStep =
  /** Write a file of the project (a block whose first line is `// file: PATH`). */
  | { readonly kind: 'file'; readonly section: string; readonly line: number; readonly path: string; readonly content: string }
  /** Run a script with bash, in the project or in the Trellis repository, and wait for it. */
  | { readonly kind: 'run'; readonly section: string; readonly line: number; readonly where: 'app' | 'repository'; readonly script: string }
  /** Start long-running processes, one per line, each in "its own terminal". */
  | { readonly kind: 'start'; readonly section: string; readonly line: number; readonly commands: readonly string[] }
  /** Run a command (`$ …`) and compare its output with the lines the transcript shows. */
  | {
    readonly kind: 'transcript';
    readonly section: string;
    readonly line: number;
    readonly command: string;
    readonly expected: readonly string[];
    readonly note?: string;
  };

const RUN_IN_APP = '# in my-app';
const RUN_IN_REPOSITORY = '# in the Trellis repository';
const START_IN_APP = '# in my-app, one terminal per line (they keep running)';

/**
 * Reads a guide written for people: `// file:` blocks are files, `sh` blocks opening with one of the
 * `# in …` lines above are commands, `console` blocks are transcripts. Other blocks (illustrations,
 * commands the reader adapts) are not run. A `# in …` line the runner does not know is an error, so
 * a typo cannot silently drop a step.
 */
export function guideSteps(markdown: string): GuideStep[] {
  const steps: GuideStep[] = [];
  for (const snippet of docSnippets(markdown)) {
    const { section, line } = snippet;
    const lines = snippet.code.replace(/\n$/, '').split('\n');
    if (snippet.file !== undefined) {
      steps.push({ kind: 'file', section, line, path: snippet.file, content: snippet.code });
    } else if (snippet.lang === 'sh' && lines[0]!.startsWith('# in ')) {
      const body = lines.slice(1).filter((l) => l.trim() !== '');
      if (lines[0] === START_IN_APP) steps.push({ kind: 'start', section, line, commands: body });
      else if (lines[0] === RUN_IN_APP) steps.push({ kind: 'run', section, line, where: 'app', script: body.join('\n') });
      else if (lines[0] === RUN_IN_REPOSITORY) steps.push({ kind: 'run', section, line, where: 'repository', script: body.join('\n') });
      else throw new Error(`line ${line}: "${lines[0]}" is not one of "${RUN_IN_APP}", "${START_IN_APP}", "${RUN_IN_REPOSITORY}"`);
    } else if (snippet.lang === 'console') {
      let current: { command: string; expected: string[] } | undefined;
      const flush = () => {
        if (current) steps.push({ kind: 'transcript', section, line, ...current, ...(snippet.note ? { note: snippet.note } : {}) });
      };
      for (const text of lines) {
        if (text.startsWith('$ ')) {
          flush();
          current = { command: text.slice(2), expected: [] };
        } else if (current) {
          current.expected.push(text);
        } else {
          throw new Error(`line ${line}: a console block starts with "$ command"`);
        }
      }
      flush();
    }
  }
  return steps;
}
