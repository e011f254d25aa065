import type { Command, Option } from 'commander';
import { usage } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';

/** Commands whose first argument is a service name the registry can complete. */
const SERVICE_FIRST = new Set(['ls', 'call', 'health', 'rules get', 'rules set', 'rules diff', 'rules validate', 'rules delete']);
/** Options whose value is a file. */
const FILE_VALUES = new Set(['--proto', '-I', '--import-path']);

interface Node {
  readonly path: string;
  readonly subcommands: string[];
  readonly options: string[];
  /** Options that take a value (the next word is not a command or argument). */
  readonly valued: string[];
  /** Options with a fixed set of values: `--output` → json text. */
  readonly choices: Map<string, string[]>;
}

function flagsOf(option: Option): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined);
}

/** The command tree as the scripts need it, from commander's own definitions (so they never drift). */
function tree(program: Command): Node[] {
  const nodes: Node[] = [];
  const globals = program.options.filter((o) => !o.hidden);
  const walk = (command: Command, path: string): void => {
    const help = command.createHelp();
    const subs = help.visibleCommands(command).filter((c) => c.name() !== 'help');
    const options = [...globals, ...(command === program ? [] : command.options.filter((o) => !o.hidden))];
    nodes.push({
      path,
      subcommands: subs.map((c) => c.name()),
      options: [...new Set([...options.flatMap(flagsOf), '--help'])],
      valued: [...new Set(options.filter((o) => o.required || o.optional).flatMap(flagsOf))],
      choices: new Map(options.filter((o) => o.argChoices).flatMap((o) => flagsOf(o).map((f) => [f, o.argChoices!] as [string, string[]]))),
    });
    for (const sub of subs) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return nodes;
}

function caseArms(nodes: readonly Node[], pick: (node: Node) => string): string {
  return nodes.map((node) => `    "${node.path}") echo "${pick(node)}" ;;`).join('\n');
}

/** A bash completion script: commands, options, option values, files, and service names from the registry. */
export function bashScript(program: Command): string {
  const nodes = tree(program);
  const choiceArms = [...new Map(nodes.flatMap((n) => [...n.choices])).entries()].map(([flag, values]) => `    ${flag}) COMPREPLY=($(compgen -W "${values.join(' ')}" -- "$cur")); return ;;`).join('\n');
  return `# bash completion for trellis. Load it with
#   source <(trellis completion bash)
# or install it: trellis completion bash > /etc/bash_completion.d/trellis
_trellis_subcommands() {
  case "$1" in
${caseArms(nodes, (n) => n.subcommands.join(' '))}
  esac
}
_trellis_options() {
  case "$1" in
${caseArms(nodes, (n) => n.options.join(' '))}
  esac
}
_trellis_valued() {
  case "$1" in
${caseArms(nodes, (n) => n.valued.join(' '))}
  esac
}
_trellis() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path="" registry="" group="" args=0 skip=0 i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then
      skip=0
      case "\${COMP_WORDS[i-1]}" in --registry) registry="$w" ;; --group) group="$w" ;; esac
      continue
    fi
    case "$w" in
      --*=*) ;;
      -*) [[ " $(_trellis_valued "$path") " == *" $w "* ]] && skip=1 ;;
      *)
        if ((args == 0)) && [[ " $(_trellis_subcommands "$path") " == *" $w "* ]]; then
          path="\${path:+$path }$w"
        else
          args=$((args + 1))
        fi
        ;;
    esac
  done
  if [[ " $(_trellis_valued "$path") " == *" $prev "* ]]; then
    case "$prev" in
${choiceArms}
      ${[...FILE_VALUES].join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      *) COMPREPLY=(); return ;;
    esac
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_trellis_options "$path")" -- "$cur"))
    return
  fi
  local subs
  subs="$(_trellis_subcommands "$path")"
  if [[ -n "$subs" ]] && ((args == 0)); then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return
  fi
  case " ${[...SERVICE_FIRST].map((s) => s.replace(' ', '_')).join(' ')} " in
    *" \${path// /_} "*)
      if ((args == 0)); then
        COMPREPLY=($(compgen -W "$(\${COMP_WORDS[0]} __complete services \${registry:+--registry "$registry"} \${group:+--group "$group"} 2>/dev/null)" -- "$cur"))
        return
      fi
      ;;
  esac
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _trellis trellis
`;
}

/** zsh runs the bash script through its bashcompinit layer: one completion logic for both shells. */
export function zshScript(program: Command): string {
  return `#compdef trellis
# zsh completion for trellis. Load it with
#   source <(trellis completion zsh)
# (in ~/.zshrc, after compinit).
autoload -U +X bashcompinit && bashcompinit
${bashScript(program).split('\n').filter((line) => !line.startsWith('#')).join('\n')}`;
}

/** `trellis completion bash|zsh` */
export function completion(ctx: CommandContext, program: Command, shell: string): number {
  if (shell === 'bash') ctx.out.print(bashScript(program));
  else if (shell === 'zsh') ctx.out.print(zshScript(program));
  else throw usage(`no completion for "${shell}"`, 'shells: bash, zsh');
  return ExitCode.OK;
}

/** `trellis __complete services`: service names for the completion scripts; silent and quick on any problem. */
export async function completeServices(ctx: CommandContext): Promise<number> {
  if (!ctx.hasRegistry) return ExitCode.OK;
  try {
    const services = await ctx.registry().services();
    const names = new Set(services.filter((s) => ctx.flags.group === undefined || s.group === ctx.group).map((s) => s.name));
    for (const name of names) ctx.out.print(name);
  } catch {
    // Completion must never print errors into the user's command line.
  }
  return ExitCode.OK;
}
