// SSH_AGENTC_LOCK / SSH_AGENTC_UNLOCK. While locked the dispatcher answers every other request
// itself (empty identity list, failure for the rest), so handlers never see a locked agent.
import { encodeSuccess } from '../protocol/agent-responses';
import type { RequestContext, RequestOf } from './context';
import { AgentRefusal } from './refusal';
import { logOutTokens } from './pin-commands';

export async function lockAgent(req: RequestOf<'SSH_AGENTC_LOCK'>, { core }: RequestContext): Promise<Buffer> {
  if (!(await core.lock.lock(req.passphrase))) throw new AgentRefusal('agent is already locked', 'info');
  core.log('info', 'agent locked');
  await logOutTokens(core);
  return encodeSuccess();
}

export async function unlockAgent(req: RequestOf<'SSH_AGENTC_UNLOCK'>, { core }: RequestContext): Promise<Buffer> {
  if (!core.lock.locked) throw new AgentRefusal('unlock of an agent that is not locked', 'info');
  if (!(await core.lock.unlock(req.passphrase))) throw new AgentRefusal('unlock with a wrong passphrase');
  core.log('info', 'agent unlocked');
  return encodeSuccess();
}
