// `tt-agent forget-pin [TOKEN]`: deletes the PIN remembered in the OS keyring (works with no
// agent running) and asks a running agent to drop the PIN it holds in memory.
import type { Argv, CommandModule } from 'yargs';
import { AgentClient } from './agent-client';
import { UserError } from './errors';

interface ForgetArgs {
  token?: string;
}

export const command: CommandModule<object, ForgetArgs> = {
  command: 'forget-pin [token]',
  describe: 'forget a remembered PIN: in the OS keyring and in the running agent',
  builder: (y: Argv<object>) =>
    y.positional('token', {
      type: 'string',
      describe: 'token label, serial or pkcs11: URI (default: every token)',
    }) as Argv<ForgetArgs>,
  handler: async (argv) => {
    const selector = argv.token ?? '';
    const { openKeyring } = await import('../pin/keyring');
    const { parseTokenSelector, tokenMatches, describeToken } = await import('../pin/token-ref');
    const lines: string[] = [];
    let keyringNote = '';
    const store = await openKeyring({ log: (line) => (keyringNote = line) });
    let removed = 0;
    if (store) {
      const sel = parseTokenSelector(selector);
      for (const token of (await store.list()).filter((t) => tokenMatches(sel, t))) {
        if (await store.delete(token)) {
          removed++;
          lines.push(`removed the remembered PIN of token ${describeToken(token)} from the OS keyring`);
        }
      }
    } else lines.push(keyringNote);

    const agent = await tellAgent(selector);
    if (agent) lines.push(agent);
    for (const l of lines) process.stdout.write(`${l}\n`);
    if (removed === 0 && !agent && store) {
      throw new UserError(
        selector ? `no remembered PIN for token "${selector}" in the OS keyring, and no running agent reached` : 'no remembered PIN in the OS keyring, and no running agent reached',
        'Nothing to forget. tt-agent add --remember-pin or tt-agent unlock --remember stores one.',
      );
    }
  },
};

/** What the running agent said, or '' when none is reachable (this command works without one). */
async function tellAgent(selector: string): Promise<string> {
  if (!process.env.SSH_AUTH_SOCK) return '';
  const { encodeForgetPinRequest, FORGET_PIN_EXTENSION } = await import('../pin/unlock-message');
  const { decodePinReply } = await import('../pin/pin-extensions');
  let client: AgentClient;
  try {
    client = await AgentClient.connect(process.env.SSH_AUTH_SOCK, 2000);
  } catch {
    return '';
  }
  try {
    const reply = await client.request(encodeForgetPinRequest({ selector, keyring: true }), 15_000);
    const answer = decodePinReply(reply, FORGET_PIN_EXTENSION);
    if (!answer) return `the agent at ${client.socketPath} holds no PINs of its own (it does not know ${FORGET_PIN_EXTENSION})`;
    return `agent: ${answer.message}`;
  } catch (err) {
    return `the agent did not answer: ${(err as Error).message}`;
  } finally {
    client.close();
  }
}
