export interface CommandLine {
  /** `NAME=value` assignments before the command. */
  readonly env: Readonly<Record<string, string>>;
  readonly command: string;
  readonly args: readonly string[];
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const SHELL_SYNTAX = /["'`$\\|&;<>(){}*?~#]/;

/**
 * Splits a guide's one-line command (`ETCD_ENDPOINTS=http://… PORT=50051 node dist/provider.js`) to
 * run it without a shell, so the test holds the process itself (its pid, its signals). Anything a
 * shell would interpret is refused: such a line belongs in a `# in my-app` block, run by bash.
 */
export function parseCommandLine(line: string): CommandLine {
  if (SHELL_SYNTAX.test(line)) throw new Error(`"${line}" needs a shell; run-and-keep-running lines must be plain commands`);
  const words = line.trim().split(/\s+/).filter((word) => word !== '');
  const env: Record<string, string> = {};
  while (words.length > 0 && ASSIGNMENT.test(words[0]!)) {
    const [, name, value] = ASSIGNMENT.exec(words.shift()!)!;
    env[name!] = value!;
  }
  const [command, ...args] = words;
  if (command === undefined) throw new Error(`"${line}" has no command`);
  return { env, command, args };
}
