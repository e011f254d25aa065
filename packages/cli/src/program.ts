import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import { CliError, fromOptionError } from './cli-error.js';
import { CommandContext, type GlobalFlags } from './context.js';
import { ExitCode } from './exit-codes.js';
import { Output, outputSettings, type Streams } from './output.js';
import { REGISTRY_ENV } from './registry/address.js';
import { PROTOCOLS } from './call/protocols.js';
import { DOCUMENT_NAMES } from './rules/document-names.js';
import { VERSION } from './version.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const EXIT_CODES = `
Exit codes:
  0   ok
  1   the call or health check failed (an RPC status other than OK, NOT_SERVING, unreachable provider
      or gRPC server, reflection that failed)
  2   usage: bad arguments, input file, request JSON or .proto; a native streaming call (not available yet)
  3   the registry is unreachable
  4   not found: service, provider, method, rule document, or a gRPC server without reflection
  5   a rule document is invalid (nothing written)
  6   rules diff: the file and the registry differ
  7   rules set/delete: not confirmed (nothing written)
  70  internal error in trellis
  130 interrupted`;

/**
 * The `trellis` command tree. Every action runs through `runAction`, which gives it a CommandContext,
 * turns thrown CliErrors into their message and exit code, and closes the registry afterwards.
 */
export function buildProgram(streams: Streams, setExitCode: (code: number) => void): Command {
  const program = new Command('trellis')
    .description('Operate Trellis services: list providers, describe and call methods, manage rule documents, check health.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--registry <address>', `etcd://host:port[,…] or zk://host:port[,…][/chroot]`).env(REGISTRY_ENV))
    .option('--root <prefix>', 'key prefix everything lives under (default /trellis)')
    .option('--group <group>', 'service group (default "default"; ls without it lists every group)')
    .option('--registry-timeout <duration>', 'how long to wait for the registry (default 3s)')
    .addOption(new Option('-o, --output <format>', 'json or text (default: text on a terminal, json in a pipe)').choices(['json', 'text']))
    .option('--json', 'JSON output (same as -o json)')
    .option('--no-color', 'no colours in text output (NO_COLOR works too)')
    .addHelpText('after', EXIT_CODES)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
    });

  // Each command's module is loaded when it runs: `trellis --version` or `rules validate` never pay
  // for loading etcd3 and grpc-js.
  const runAction = async (command: { optsWithGlobals(): unknown }, work: (ctx: CommandContext) => Promise<number> | number): Promise<void> => {
    const flags = command.optsWithGlobals() as GlobalFlags;
    let ctx: CommandContext | undefined;
    // The process lives until the command ends, whatever the libraries under it leave unreferenced
    // (idle connections, registry clients' timers): a command never ends early with nothing printed.
    const alive = setInterval(() => undefined, 1 << 30);
    try {
      ctx = new CommandContext(flags, streams);
      setExitCode(await work(ctx));
    } catch (error) {
      const failure = asCliError(error);
      (ctx?.out ?? new Output(outputSettings(flags, streams), streams)).error(failure);
      setExitCode(failure.exitCode);
    } finally {
      await ctx?.close().catch(() => undefined);
      clearInterval(alive);
    }
  };

  program
    .command('ls')
    .description('list services, or the providers of one (group, version, weight, protocol, address, tags, health)')
    .argument('[service]', 'fully qualified service name, e.g. demo.Greeter')
    .option('--no-health', 'do not PING the providers')
    .option('--health-timeout <duration>', 'how long each PING may take (default 1s)')
    .action((service, options, command) => runAction(command, async (ctx) => (await import('./commands/ls.js')).ls(ctx, service, options)));

  program
    .command('describe')
    .description('methods (with their streaming kinds) and message shapes of a service, method, message or enum, from --proto or a server\'s reflection (native or gRPC)')
    .argument('[target-or-symbol]', 'host:port (native), grpc://host:port or grpcs://host:port to ask its reflection service; else the symbol')
    .argument('[symbol]', 'demo.Greeter, demo.Greeter.SayHello, demo.HelloRequest; none lists every service')
    .option('--proto <file>', '.proto file to read (repeatable)', collect)
    .option('-I, --import-path <dir>', 'directory to search for imports (repeatable)', collect)
    .option('-H, --header <key:value>', 'metadata sent with the reflection requests (repeatable)', collect)
    .option('--timeout <duration>', 'deadline of the reflection requests (default 5s)')
    .addOption(new Option('--protocol <protocol>', 'protocol to ask reflection over (default: grpc for grpc:// targets and TLS flags, else trellis)').choices([...PROTOCOLS]))
    .option('--cacert <file>', 'CA certificate (PEM) to verify a grpcs:// server with')
    .option('--insecure', 'grpcs:// without verifying the server\'s certificate (test servers only)')
    .action((first, second, options, command) => runAction(command, async (ctx) => (await import('./commands/describe.js')).describe(ctx, first, second, options)));

  program
    .command('call')
    .description('call a method with a JSON request and print the JSON response (streams: one JSON per line)')
    .argument('<target>', 'a service name (providers from the registry), host:port (native), grpc://host:port or grpcs://host:port')
    .argument('<method>', 'Method, or pkg.Service/Method')
    .option('-d, --data <json>', "request as JSON, @file to read a file, - for stdin (default {}); client and bidi streams: JSON lines, one message a line (default stdin)")
    .option('-H, --header <key:value>', 'request metadata (repeatable)', collect)
    .option('--timeout <duration>', 'deadline of the call (default 5s; streams: none)')
    .option('--proto <file>', '.proto file to read (repeatable; default: the server\'s reflection)', collect)
    .option('-I, --import-path <dir>', 'directory to search for imports (repeatable)', collect)
    .option('--service <name>', 'the service, when calling host:port with descriptors that define several')
    .addOption(new Option('--protocol <protocol>', 'wire protocol (default: grpc for grpc:// targets and gRPC providers, else trellis)').choices([...PROTOCOLS]))
    .option('--cacert <file>', 'CA certificate (PEM) to verify a grpcs:// server with')
    .option('--insecure', 'grpcs:// without verifying the server\'s certificate (test servers only)')
    .option('-v, --verbose', 'also print which provider answered, the time taken and the response metadata')
    .option('--proto-names', 'print field names as written in the .proto instead of lowerCamelCase JSON names')
    .action((target, method, options, command) => runAction(command, async (ctx) => (await import('./commands/call.js')).call(ctx, target, method, options)));

  const documents = DOCUMENT_NAMES.join(', ');
  const rules = program
    .command('rules')
    .description(`rule documents in the registry (${documents}), validated with the plugins' own schemas`);
  const docOption = () => new Option('--doc <name>', `document name (${documents}; default: the file's base name)`);
  const kindOption = () => new Option('--kind <kind>', 'how to validate a document with a custom name').choices([...DOCUMENT_NAMES]);
  rules
    .command('get')
    .description('print the rule documents of a service (one with --doc, as stored)')
    .argument('<service>')
    .addOption(docOption())
    .action((service, options, command) => runAction(command, async (ctx) => (await import('./commands/rules.js')).rulesGet(ctx, service, options)));
  rules
    .command('validate')
    .description('validate a document file (no registry needed); exit 5 when invalid')
    .argument('<service>')
    .argument('<file>', 'JSON or YAML file, - for stdin')
    .addOption(docOption())
    .addOption(kindOption())
    .action((service, file, options, command) => runAction(command, async (ctx) => (await import('./commands/rules.js')).rulesValidate(ctx, service, file, options)));
  rules
    .command('diff')
    .description('diff a document file against the registry; exit 6 when they differ')
    .argument('<service>')
    .argument('<file>', 'JSON or YAML file, - for stdin')
    .addOption(docOption())
    .option('--force', 'diff even if the registry does not know the service')
    .action((service, file, options, command) => runAction(command, async (ctx) => (await import('./commands/rules.js')).rulesDiff(ctx, service, file, options)));
  rules
    .command('set')
    .description('validate a document file, show the diff, confirm, and write it to the registry')
    .argument('<service>')
    .argument('<file>', 'JSON or YAML file, - for stdin (then pass --yes)')
    .addOption(docOption())
    .addOption(kindOption())
    .option('-y, --yes', 'write without asking')
    .option('--force', 'write even if the registry does not know the service yet')
    .action((service, file, options, command) => runAction(command, async (ctx) => (await import('./commands/rules.js')).rulesSet(ctx, service, file, options)));
  rules
    .command('delete')
    .description('delete a document from the registry (the plugins go back to their code\'s settings)')
    .argument('<service>')
    .addOption(docOption().makeOptionMandatory())
    .option('-y, --yes', 'delete without asking')
    .action((service, options, command) => runAction(command, async (ctx) => (await import('./commands/rules.js')).rulesDelete(ctx, service, options)));

  program
    .command('health')
    .description('PING a provider (or every provider of a service): native PING, or HTTP/2 PING for gRPC; --http checks @trellis/health\'s endpoint')
    .argument('<target>', 'host:port, grpc://host:port, grpcs://host:port, or a service name (its providers from the registry)')
    .option('--http <port|url>', "@trellis/health's HTTP endpoint: its port (path /health), :port/path, or a URL")
    .option('-c, --count <n>', 'PINGs per provider (default 3)')
    .option('--timeout <duration>', 'per check (default 1s)')
    .action((target, options, command) => runAction(command, async (ctx) => (await import('./commands/health.js')).health(ctx, target, options)));

  program.command('console').description('serve the registry-wide web console (read-only): every service and provider, links to their own consoles').option('--port <port>', 'HTTP port (default: a free one)').option('--host <address>', 'interface (default 127.0.0.1)').option('--token <token>', 'bearer token the page needs (default: random; TRELLIS_CONSOLE_TOKEN)').action((options, command) => runAction(command, async (ctx) => (await import('./commands/console.js')).consoleCommand(ctx, options)));

  program
    .command('completion')
    .description('print a shell completion script: source <(trellis completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell, _options, command) => runAction(command, async (ctx) => (await import('./commands/completion.js')).completion(ctx, program as unknown as import('commander').Command, shell)));

  program
    .command('__complete', { hidden: true })
    .argument('<what>')
    .action((_what, _options, command) => runAction(command, async (ctx) => (await import('./commands/completion.js')).completeServices(ctx)));

  return program;
}

function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const optionError = fromOptionError(error);
  if (optionError !== undefined) return optionError;
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(ExitCode.INTERNAL, `unexpected error: ${message}`, {
    hint: 'this is a bug in trellis; please report it with the command line',
    cause: error,
    details: error instanceof Error && error.stack ? { stack: error.stack } : undefined,
  });
}

/** Runs one command line; resolves with the exit code (never throws, never calls process.exit). */
export async function run(argv: readonly string[], streams: Streams): Promise<number> {
  let exitCode: number = ExitCode.OK;
  const program = buildProgram(streams, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with 0; anything commander refused (unknown option, missing argument) is usage.
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.OK : ExitCode.USAGE;
    }
    throw error;
  }
  return exitCode;
}
