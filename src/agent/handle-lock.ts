// SSH_AGENTC_LOCK / SSH_AGENTC_UNLOCK. While locked the dispatcher answers every other request
// itself (empty identity list, failure for the rest), so handlers never see a locked agent.
//
// Locking logs every token out but does not forget the PINs the agent keeps: it seals them
// under a key derived from the lock passphrase (lock.ts). Unlocking unseals them, so the next
// signature logs in again without asking anyone, as ssh-agent's users expect after ssh-add -X,
// and a headless agent keeps working. While locked, no PIN is usable by anyone.
import { encodeSuccess } from '../protocol/agent-responses';
import type { RequestContext, RequestOf } from './context';
import { AgentRefusal } from './refusal';
import { logOutTokens } from './pin-commands';

export async function lockAgent(req: RequestOf<'SSH_AGENTC_LOCK'>, { core }: RequestContext): Promise<Buffer> {
  const outcome = await core.lock.lock(req.passphrase);
  if (!outcome.ok) throw new AgentRefusal(outcome.reason, 'info');
  try {
    await core.pins.seal(outcome.sealKey);
  } finally {
    outcome.sealKey.fill(0);
  }
  core.log('info', 'agent locked; kept PINs sealed');
  await logOutTokens(core);
  return encodeSuccess();
}

export async function unlockAgent(req: RequestOf<'SSH_AGENTC_UNLOCK'>, { core }: RequestContext): Promise<Buffer> {
  const outcome = await core.lock.unlock(req.passphrase);
  if (!outcome.ok) throw new AgentRefusal(outcome.reason);
  try {
    if (!(await core.pins.unseal(outcome.sealKey))) core.log('warn', 'kept PINs could not be unsealed; tokens will ask for their PIN again');
  } finally {
    outcome.sealKey.fill(0);
  }
  core.log('info', 'agent unlocked');
  return encodeSuccess();
}
