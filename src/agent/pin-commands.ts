// What the agent does with PINs on a client's request: the unlock-token@tt-agent and
// forget-pin@tt-agent extensions (`tt-agent unlock`, `tt-agent forget-pin`), and ssh-add -x,
// which logs every token out (C_Logout); the lock seals the kept PINs (handle-lock.ts).
import { handlePinExtension } from '../pin/pin-extensions';
import { FORGET_PIN_EXTENSION, UNLOCK_EXTENSION } from '../protocol/pin-extension-messages';
import type { RequestContext } from './context';
import type { AgentCore } from './core';
import { AgentRefusal, describeError } from './refusal';

export const PIN_EXTENSION_NAMES = [UNLOCK_EXTENSION, FORGET_PIN_EXTENSION] as const;

/** Handler for one of PIN_EXTENSION_NAMES. */
export function pinExtension(name: string): (body: Buffer, ctx: RequestContext) => Promise<Buffer> {
  return async (body, { core }) => {
    let reply: Buffer | null;
    try {
      const pins = core.config.pins;
      if (!pins) throw new AgentRefusal(`${name}: this agent was started without token support`);
      reply = await handlePinExtension(pins, name, body);
    } catch (err) {
      if (err instanceof AgentRefusal) throw err;
      throw new AgentRefusal(`${name} malformed: ${describeError(err)}`);
    } finally {
      // The body held a PIN (unlock): the decoder copied it out.
      body.fill(0);
    }
    if (!reply) throw new AgentRefusal(`unsupported extension ${name}`, 'debug');
    return reply;
  };
}

/** ssh-add -x: C_Logout on every token of every module (the kept PINs are sealed by the lock). */
export async function logOutTokens(core: AgentCore): Promise<void> {
  await Promise.all(
    [...core.providers.values()].map(async ({ provider }) => {
      const p = provider as { logout?: () => Promise<void> };
      try {
        await p.logout?.();
      } catch (err) {
        core.log('warn', `logging out the tokens of ${provider.modulePath} failed: ${describeError(err)}`);
      }
    }),
  );
  if (core.providers.size > 0) core.log('info', 'tokens logged out');
}
