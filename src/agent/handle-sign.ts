// SSH_AGENTC_SIGN_REQUEST: look the key up by its exact blob, apply its constraints
// (destination, then confirm), then sign in-process (soft key) or through its provider.
// A certificate identity signs with its certified key: the signature is the plain key's
// (rsa-sha2-256/512 for RSA certificates as the flags ask), only the listed blob differs.
import { encodeSignResponse } from '../protocol/agent-responses';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { signatureAlgorithm } from '../protocol/signature';
import type { RequestContext, RequestOf } from './context';
import { describeIdentity } from './core';
import { signPermitted } from './destination';
import type { Identity } from './identities';
import { AgentRefusal, describeError } from './refusal';

export async function signRequest(
  req: RequestOf<'SSH_AGENTC_SIGN_REQUEST'>,
  { core, conn }: RequestContext,
): Promise<Buffer> {
  const id = core.identities.get(req.keyBlob);
  if (!id) throw new AgentRefusal(`sign request for a key not in the agent (${fingerprintSha256(req.keyBlob)})`, 'info');
  const dest = signPermitted(id.constraints.destinations, conn, id.blob, req.data);
  if (!dest.ok) throw new AgentRefusal(`refusing ${describeIdentity(id)}: ${dest.reason}`);
  if (id.constraints.confirm) await confirmUse(id, { core, conn });

  const { algorithm } = signatureAlgorithm(id.publicKey, req.flags);
  let signature: Buffer;
  try {
    signature =
      id.source.kind === 'soft'
        ? await id.source.key.sign(req.data, req.flags)
        : await id.source.provider.sign(id.certificate?.keyBlob ?? id.blob, req.data, req.flags);
  } catch (err) {
    const where = id.source.kind === 'token' ? ` on token ${JSON.stringify(id.source.token)}` : '';
    throw new AgentRefusal(`signing with ${describeIdentity(id)}${where} failed: ${describeError(err)}`, 'error');
  }
  core.log('debug', `signed ${req.data.length} bytes with ${describeIdentity(id)} as ${algorithm} (connection ${conn.id})`);
  return encodeSignResponse(signature);
}

async function confirmUse(id: Identity, { core }: RequestContext): Promise<void> {
  // A certificate shows its key's fingerprint, as ssh-add -l and OpenSSH's agent show it.
  const prompt = `Allow use of key ${id.comment}?\nKey fingerprint ${fingerprintSha256(id.certificate?.keyBlob ?? id.blob)}.`;
  const answer = await core.config.confirm(prompt);
  if (!answer.allowed) throw new AgentRefusal(`use of ${describeIdentity(id)} not confirmed: ${answer.reason ?? 'denied'}`);
  // The question may have taken minutes: the key may be gone or the agent locked since.
  if (core.lock.locked || core.identities.get(id.blob) !== id) {
    throw new AgentRefusal(`${describeIdentity(id)} was removed or the agent locked while confirming`);
  }
}
