// `tt-agent unlock [TOKEN] [--remember]`: for an agent with no way to show a PIN dialog
// (headless, under systemd, over ssh): reads the PIN on this terminal without echo and hands
// it to the running agent in an unlock-token@tt-agent request. The agent uses it for the
// login that is waiting, or keeps it for the next one.
import type { Argv, CommandModule } from 'yargs';
import { examplesEpilog } from './help-examples';
import { AgentClient } from './agent-client';
import { UserError } from './user-error';

interface UnlockArgs {
  token?: string;
  remember?: boolean;
}

export const command: CommandModule<object, UnlockArgs> = {
  command: 'unlock [token]',
  describe: "type a token's PIN for the running agent (when it cannot show a PIN dialog)",
  builder: (y: Argv<object>) =>
    y
      .positional('token', {
        type: 'string',
        describe: 'token label, serial or pkcs11: URI (default: the token waiting for a PIN)',
      })
      .option('remember', { type: 'boolean', default: false, describe: 'also store the PIN in the OS keyring (tt-agent forget-pin removes it)' })
      .epilog(
        examplesEpilog([
          ['tt-agent unlock', 'the PIN of the one token the agent is waiting for'],
          ["tt-agent unlock 'pkcs11:token=work;serial=0123abcd'", 'one token of several'],
        ]),
      ) as Argv<UnlockArgs>,
  handler: async (argv) => {
    const { encodeUnlockRequest, UNLOCK_EXTENSION } = await import('../protocol/pin-extension-messages');
    const { decodePinReply } = await import('../pin/pin-extensions');
    const { readPinFromTty, NoTerminalError, PinEntryCancelled } = await import('../pin/tty');
    const selector = argv.token ?? '';

    // Connect first: no point asking for a PIN when there is no agent to hand it to.
    const client = await AgentClient.connect();
    let pin: Buffer;
    try {
      pin = await readPinFromTty(selector ? `PIN for token ${selector}: ` : 'PIN for the token the agent is waiting for: ');
    } catch (err) {
      client.close();
      if (err instanceof NoTerminalError) throw new UserError('no terminal to read the PIN from', 'Run tt-agent unlock in a terminal (it reads /dev/tty, never stdin or arguments).');
      if (err instanceof PinEntryCancelled) throw new UserError('PIN entry cancelled; nothing was sent', 'Run tt-agent unlock again when ready.', 130);
      throw err;
    }
    if (pin.length === 0) {
      client.close();
      throw new UserError('empty PIN; nothing was sent', 'Run tt-agent unlock again and type the PIN.');
    }
    const body = encodeUnlockRequest({ selector, pin, remember: argv.remember === true });
    pin.fill(0);
    let reply: Buffer;
    try {
      reply = await client.request(body, 30_000);
    } finally {
      body.fill(0);
      client.close();
    }
    const answer = decodePinReply(reply, UNLOCK_EXTENSION);
    if (!answer) {
      throw new UserError(`the agent at ${client.socketPath} does not accept PINs (no ${UNLOCK_EXTENSION})`, 'Is SSH_AUTH_SOCK pointing at tt-agent? Check with: tt-agent status');
    }
    if (!answer.ok) throw new UserError(answer.message, 'See tt-agent status for the tokens the agent knows.');
    process.stdout.write(`${answer.message}\n`);
  },
};
