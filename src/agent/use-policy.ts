// The per-key policy of the configuration, applied before a key signs: `allow-sshsig`
// namespaces, and `confirm` (never / always / forwarded / sshsig / other) through the agent's
// confirmation program, with a prompt that says key, class, destination and requester. A
// `remember yes` key is asked once per host key until the agent is locked, the key removed or
// its token pulled. A key added with `ssh-add -c` is asked every time, as in OpenSSH.
import type { RequestContext } from './context';
import { describeIdentity } from './core';
import { cachedFingerprint } from './fingerprint-cache';
import type { Identity } from './identities';
import { AgentRefusal } from './refusal';
import { describeRequester } from './requester';
import { keyPolicy, type ConfirmWhen } from './use-config';
import { describeKey, describeTarget, describeVia, type ClassifiedUse, type KeyUse } from './use-record';

export async function applyUsePolicy(id: Identity, classified: ClassifiedUse, { core }: RequestContext): Promise<void> {
  const { use, data, destinationKey } = classified;
  const policy = keyPolicy(classified.config, { fingerprint: cachedFingerprint(id.certificate?.keyBlob ?? id.blob), comment: id.comment });
  if (data.kind === 'sshsig' && policy.allowSshsig && !policy.allowSshsig.includes(data.namespace)) {
    const allowed = policy.allowSshsig.length > 0 ? `only ${policy.allowSshsig.join(', ')}` : 'none';
    throw new AgentRefusal(`${describeIdentity(id)} may not sign SSHSIG namespace ${JSON.stringify(data.namespace)} (allow-sshsig: ${allowed})`);
  }
  const byPolicy = confirmWanted(policy.confirm, use);
  if (!id.constraints.confirm && !byPolicy) return;
  const remembers = policy.remember && !id.constraints.confirm && destinationKey !== undefined;
  if (remembers && core.uses.isRemembered(id.blob, destinationKey, id, core.lock.generation)) {
    use.confirmation = 'remembered';
    return;
  }
  const generation = core.lock.generation;
  const answer = await core.config.confirm(confirmPrompt(use));
  if (!answer.allowed) throw new AgentRefusal(`use of ${describeIdentity(id)} not confirmed: ${answer.reason ?? 'denied'}`);
  // The question may have taken minutes: the key may be gone or the agent locked since.
  if (core.lock.locked || core.lock.generation !== generation || core.identities.get(id.blob) !== id) {
    throw new AgentRefusal(`${describeIdentity(id)} was removed or the agent locked while confirming`);
  }
  use.confirmation = 'asked';
  if (remembers) {
    const token = id.source.kind === 'token' ? { label: id.source.token, serial: '' } : undefined;
    core.uses.remember(id.blob, destinationKey, id, generation, token);
  }
}

function confirmWanted(when: readonly ConfirmWhen[], use: KeyUse): boolean {
  return when.some((w) => w === 'always' || (w === 'forwarded' && use.forwarded) || w === use.class);
}

/** What the person is asked: one fact a line, the question first. */
export function confirmPrompt(use: KeyUse): string {
  return [
    `Allow ${use.class} ${describeTarget(use)}?`,
    `Key: ${describeKey(use)}`,
    `From: ${describeVia(use)}`,
    `Requested by: ${describeRequester(use.requester.chain, use.requester.pid)}`,
  ].join('\n');
}
