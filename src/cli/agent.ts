// `tt-agent` with no subcommand: the ssh-agent look-alike. Everything heavy is imported only
// when an agent actually starts, because `eval $(tt-agent)` runs in every new shell and
// usually just finds the running agent. The jobs live in their own files:
//   agent-args.ts        flags           agent-start.ts   the background starter
//   agent-foreground.ts  -D/-d/systemd   agent-kill.ts    -k
//   shell-env.ts         sh/csh/fish     live-agent.ts    is an agent of ours listening there?
// Only the module of the job at hand is loaded: a new shell loads the starter alone.
import { parseAgentArgs, shellFromEnv, systemdSocket } from './agent-args';
import { UserError } from './user-error';

export async function runAgentCommand(argv: string[]): Promise<number> {
  const args = parseAgentArgs(argv);
  for (const n of args.notes) process.stderr.write(`tt-agent: ${n}\n`);
  if (args.command.length > 0) {
    throw new UserError(
      `running a command under the agent (${args.command[0]}) is not supported.`,
      'Start the agent with eval $(tt-agent), then run the command in that shell.',
      2,
    );
  }
  const shell = args.shell ?? shellFromEnv(process.env.SHELL);
  if (args.kill) return (await import('./agent-kill')).killAgent(shell);
  if (args.foreground || systemdSocket() !== undefined) return (await import('./agent-foreground')).runForeground(args, shell);
  return (await import('./agent-start')).startInBackground(args, shell);
}
