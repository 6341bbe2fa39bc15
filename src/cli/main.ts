// Entry point of the `tt-agent` command. Two paths:
//  - no subcommand (or only ssh-agent style flags): the agent starter, parsed by hand so that
//    `eval $(tt-agent)` in every new shell never pays for loading yargs;
//  - a subcommand: yargs, loaded lazily, with one module per command.
// commands.ts only names loaders: importing it loads no command. `--version` and the
// top-level `--help` are answered from help.ts alone: no yargs, no command, no native code.
import { COMMAND_NAMES, loadCommands } from './commands';
import { packageVersion, topLevelHelp } from './help';
import { UserError } from './user-error';
import { reportError } from './report';

export async function main(argv: string[]): Promise<number> {
  // ssh-agent has neither -h nor -V; here they mean what users expect of any command.
  if (argv[0] === '-h' || argv[0] === '-V') argv = [argv[0] === '-h' ? '--help' : '--version', ...argv.slice(1)];
  const first = argv[0];
  const rest = argv.slice(1).filter((a) => a !== '--debug');
  if (first === '--version' && rest.length === 0) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if ((first === '--help' || first === 'help') && rest.length === 0) {
    process.stdout.write(topLevelHelp());
    return 0;
  }
  const wantsYargs =
    first !== undefined && (COMMAND_NAMES.includes(first) || ['--help', '--version', 'help'].includes(first));
  if (!wantsYargs && (first === undefined || first.startsWith('-'))) {
    try {
      const { runAgentCommand } = await import('./agent');
      return await runAgentCommand(argv);
    } catch (err) {
      // -d is the agent's debug log, not a request for stack traces (TT_AGENT_DEBUG=1 is).
      return reportError(err, process.env.TT_AGENT_DEBUG === '1');
    }
  }
  return runSubcommand(argv);
}

async function runSubcommand(argv: string[]): Promise<number> {
  const { default: yargs } = await import('yargs');
  const debug = argv.includes('--debug') || process.env.TT_AGENT_DEBUG === '1';
  let code = 0;
  const parser = yargs(argv)
    .scriptName('tt-agent')
    .usage(
      'tt-agent — an ssh-agent whose keys live on PKCS#11 tokens\n\n' +
        'Usage:\n  eval $(tt-agent)            start the agent (or reuse the running one)\n' +
        '  tt-agent <command> [options]',
    )
    .option('debug', { type: 'boolean', describe: 'show stack traces and library detail on errors', global: true })
    .strict()
    .demandCommand(1, 'Name a command, or run tt-agent with no command to start the agent.')
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg ?? 'invalid arguments');
    });
  try {
    for (const c of loadCommands(argv[0])) parser.command(c);
  } catch (err) {
    return reportError(unbuilt(err) ?? err, debug);
  }
  try {
    await parser.parseAsync();
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tt-agent: ${err.message}\nRun 'tt-agent --help' for the commands and their options.\n`);
      return 2;
    }
    return reportError(err, debug);
  }
  return code;
}

class UsageError extends Error {}

/** A native module that is not there: installed with --ignore-scripts, or its build failed. */
function unbuilt(err: unknown): UserError | undefined {
  const e = err as NodeJS.ErrnoException;
  const file = e?.code === 'MODULE_NOT_FOUND' ? /Cannot find module '([^']+\.node)'/.exec(e.message)?.[1] : undefined;
  if (!file) return undefined;
  return new UserError(
    `tt-agent's native parts are not built (${file} is missing).`,
    "Build them: 'npm rebuild -g tt-agent' (or 'scripts/install.sh' in a clone); it needs make, g++, python3 and Node's headers.",
    1,
    { cause: err },
  );
}
