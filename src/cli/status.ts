// `tt-agent status [--json]`: the answer to "agent refused operation". Asks the agent at
// $SSH_AUTH_SOCK for its full status@tt-agent report (the agent asks each module host) and
// prints it as a readable report, or as the same data in JSON.
import type { Argv, CommandModule } from 'yargs';
import type { AgentStatus } from '../agent/status';
import { AgentClient, STATUS_EXTENSION } from './agent-client';
import { UserError } from './user-error';
import { examplesEpilog } from './help-examples';
import { renderStatus } from './status-render';
import { renderUses } from './uses-render';

interface StatusArgs {
  json?: boolean;
  uses?: boolean;
}

const SSH_AGENTC_EXTENSION = 27;
const SSH_AGENT_EXTENSION_RESPONSE = 29;
// The agent gives each module host 3 s; leave room for several of them and the socket.
const STATUS_TIMEOUT_MS = 15_000;

export const command: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'show what the running agent holds and why it refuses: modules, tokens, PIN state, keys, errors',
  builder: (y: Argv<object>) =>
    y
      .option('json', { type: 'boolean', describe: 'the same report as one JSON object' })
      .option('uses', { type: 'boolean', describe: 'the last key uses instead: each signature and refusal, what for, where, asked by whom' })
      .epilog(
        examplesEpilog([
          ['tt-agent status', 'after ssh says "agent refused operation"'],
          ['tt-agent status --uses', 'which process used which key for which host'],
        ]),
      ) as Argv<StatusArgs>,
  handler: async (argv) => {
    const socketPath = process.env.SSH_AUTH_SOCK || (await findDefaultAgent());
    const status = await fetchStatus(socketPath);
    if (argv.uses) {
      process.stdout.write(argv.json ? `${JSON.stringify({ socket: socketPath, locked: status.locked, uses: status.uses ?? [] }, null, 2)}\n` : renderUses(status));
      return;
    }
    process.stdout.write(argv.json ? `${JSON.stringify({ socket: socketPath, ...status }, null, 2)}\n` : renderStatus(status, socketPath!));
  },
};

/** With SSH_AUTH_SOCK unset: the agent at the fixed runtime socket, after the same ownership checks as the starter's. */
async function findDefaultAgent(): Promise<string> {
  const { defaultAgentSocket } = await import('./live-agent');
  const found = await defaultAgentSocket();
  if (found.path) return found.path;
  throw new UserError(
    `no agent: SSH_AUTH_SOCK is not set${found.why ? `, and ${found.why}` : process.env.XDG_RUNTIME_DIR ? ' and no agent answers at $XDG_RUNTIME_DIR/tt-agent/agent.sock' : ''}.`,
    'Start one with: eval $(tt-agent)',
  );
}

export async function fetchStatus(socketPath: string | undefined): Promise<AgentStatus> {
  if (!socketPath) {
    throw new UserError('no agent: SSH_AUTH_SOCK is not set.', 'Start one with: eval $(tt-agent)');
  }
  let client: AgentClient;
  try {
    client = await AgentClient.connect(socketPath);
  } catch (err) {
    const code = (err as { cause?: NodeJS.ErrnoException }).cause?.code;
    throw new UserError(
      `no agent at ${socketPath}${code ? ` (${code})` : ''}.`,
      'Start one with: eval $(tt-agent)',
    );
  }
  try {
    const { SshReader, SshWriter } = await import('../protocol/wire');
    const body = new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(STATUS_EXTENSION).string('full').toBuffer();
    const reply = new SshReader(await client.request(body, STATUS_TIMEOUT_MS));
    if (reply.uint8() !== SSH_AGENT_EXTENSION_RESPONSE || reply.stringUtf8() !== STATUS_EXTENSION) {
      throw new UserError(
        `the agent at ${socketPath} is alive but is not a tt-agent (it does not answer ${STATUS_EXTENSION}).`,
        'Use ssh-add -l to see its keys, or start a tt-agent with: eval $(tt-agent)',
      );
    }
    return JSON.parse(reply.stringUtf8()) as AgentStatus;
  } finally {
    client.close();
  }
}
