// `tt-agent forget-pin [TOKEN]`: deletes the PIN remembered in the OS keyring (works with no
// agent running) and asks a running agent to drop the PIN it holds in memory.
import type { Argv, CommandModule } from 'yargs';
import { AgentClient } from './agent-client';
import { UserError } from './user-error';

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
    let noKeyring = '';
    const store = await openKeyring({ onUnavailable: (why) => (noKeyring = why) });
    let removed = 0;
    if (store) {
      const sel = parseTokenSelector(selector);
      for (const token of (await store.list()).filter((t) => tokenMatches(sel, t))) {
        if (await store.delete(token)) {
          removed++;
          lines.push(`removed the remembered PIN of token ${describeToken(token)} from the OS keyring`);
        }
      }
      if (removed === 0) lines.push(`OS keyring: no PIN remembered${selector ? ` for token "${selector}"` : ''}`);
    } else lines.push(`OS keyring: none here (${noKeyring}), so no PIN was kept in one`);

    const agent = await tellAgent(selector);
    // A token nobody knows is a mistake worth an exit status: the keyring had nothing, and the
    // agent (if any) knows no such token.
    if (selector && removed === 0 && (!agent || !agent.ok)) {
      const keyring = store ? 'not in the OS keyring' : 'no OS keyring here';
      const agentSide = agent ? 'the agent knows no such token' : 'no running agent was reached';
      throw new UserError(
        `no remembered PIN for token "${selector}": ${keyring}, and ${agentSide}`,
        'tt-agent status lists the tokens the agent knows; name one by label, serial or pkcs11: URI.',
      );
    }
    if (agent) lines.push(agent.message);
    else lines.push(`no agent ${process.env.SSH_AUTH_SOCK ? `answers at ${process.env.SSH_AUTH_SOCK}` : "to ask (SSH_AUTH_SOCK is not set)"}, so none holds a PIN`);
    for (const l of lines) process.stdout.write(`${l}\n`);
  },
};

/** What the running agent said, or null when none is reachable (this command works without one). */
async function tellAgent(selector: string): Promise<{ ok: boolean; message: string } | null> {
  if (!process.env.SSH_AUTH_SOCK) return null;
  const { encodeForgetPinRequest, FORGET_PIN_EXTENSION } = await import('../protocol/pin-extension-messages');
  const { decodePinReply } = await import('../pin/pin-extensions');
  let client: AgentClient;
  try {
    client = await AgentClient.connect(process.env.SSH_AUTH_SOCK, 2000);
  } catch {
    return null;
  }
  try {
    const reply = await client.request(encodeForgetPinRequest({ selector, keyring: true }), 15_000);
    const answer = decodePinReply(reply, FORGET_PIN_EXTENSION);
    if (!answer) return { ok: true, message: `the agent at ${client.socketPath} holds no PINs of its own (it does not know ${FORGET_PIN_EXTENSION})` };
    return answer;
  } catch (err) {
    return { ok: true, message: `did not answer: ${(err as Error).message}` };
  } finally {
    client.close();
  }
}
