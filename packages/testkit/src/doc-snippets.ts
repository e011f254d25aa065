/** One fenced code block of a Markdown document. */
export interface DocSnippet {
  /** The fence's info string (`ts`, `sh`, `console`, …); '' when it has none. */
  readonly lang: string;
  /** The block's text, without the fences. */
  readonly code: string;
  /** The path a first line `// file: PATH` or `# file: PATH` names (the line stays in `code`). */
  readonly file?: string;
  /** The `## ` heading the block is under ('' before the first one). */
  readonly section: string;
  /** The text of an HTML comment `<!-- test: … -->` on the line just before the fence. */
  readonly note?: string;
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
}

const FENCE = /^(`{3,}|~{3,})\s*([\w-]*)/;
const FILE_MARKER = /^(?:\/\/|#)\s*file:\s*(\S+)\s*$/;
const NOTE = /^<!--\s*test:\s*(.*?)\s*-->$/;

/**
 * The code blocks of a Markdown document, in order: how tests follow a guide literally (the guide
 * names each file on the block's first line, so readers see it too, and tests write it there).
 */
export function docSnippets(markdown: string): DocSnippet[] {
  const lines = markdown.split('\n');
  const snippets: DocSnippet[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const open = FENCE.exec(line);
    if (!open) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(fence)) body.push(lines[j++]!);
    if (j === lines.length) throw new Error(`line ${i + 1}: code block not closed`);
    const file = FILE_MARKER.exec(body[0] ?? '')?.[1];
    const note = NOTE.exec(lines[i - 1]?.trim() ?? '')?.[1];
    snippets.push({
      lang: open[2] ?? '',
      code: body.join('\n') + '\n',
      section,
      line: i + 1,
      ...(file !== undefined ? { file } : {}),
      ...(note !== undefined ? { note } : {}),
    });
    i = j;
  }
  return snippets;
}
