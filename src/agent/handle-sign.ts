// SSH_AGENTC_SIGN_REQUEST: look the key up by its exact blob, apply its constraints
// (destination, then the key-use policy and confirm), then sign in-process (soft key) or through
// its provider. A certificate identity signs with its certified key: the signature is the plain
// key's (rsa-sha2-256/512 for RSA certificates as the flags ask), only the listed blob differs.
import { encodeSignResponse } from '../protocol/agent-responses';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { signatureAlgorithm } from '../protocol/signature';
import { hintOf } from '../hint';
import type { RequestContext, RequestOf } from './context';
import { describeIdentity } from './core';
import { signPermitted } from './destination';
import { AgentRefusal, describeError } from './refusal';
import { applyUsePolicy } from './use-policy';
import { classifyUse, type ClassifiedUse } from './use-record';

export async function signRequest(req: RequestOf<'SSH_AGENTC_SIGN_REQUEST'>, ctx: RequestContext): Promise<Buffer> {
  // Every signature and every refusal goes to the use log, classified (use-record.ts).
  const id = ctx.core.identities.get(req.keyBlob);
  // A certificate is shown by its key's fingerprint, as ssh-add -l shows it.
  const classified = classifyUse(ctx.conn, id?.certificate?.keyBlob ?? id?.blob ?? req.keyBlob, id?.comment, req.data, ctx.core.uses.context());
  try {
    const reply = await signChecked(req, ctx, classified);
    classified.use.outcome = 'signed';
    return reply;
  } catch (err) {
    classified.use.reason = err instanceof AgentRefusal ? err.message : describeError(err);
    throw err;
  } finally {
    ctx.core.uses.record(classified.use, classified.config);
  }
}

async function signChecked(
  req: RequestOf<'SSH_AGENTC_SIGN_REQUEST'>,
  { core, conn }: RequestContext,
  classified: ClassifiedUse,
): Promise<Buffer> {
  const id = core.identities.get(req.keyBlob);
  if (!id) throw new AgentRefusal(`sign request for a key not in the agent (${fingerprintSha256(req.keyBlob)})`, 'info');
  const dest = signPermitted(id.constraints.destinations, conn, id.blob, req.data);
  if (!dest.ok) throw new AgentRefusal(`refusing ${describeIdentity(id)}: ${dest.reason}`);
  // The configuration's allow-sshsig and confirm, and the key's own confirm constraint.
  await applyUsePolicy(id, classified, { core, conn });

  const { algorithm } = signatureAlgorithm(id.publicKey, req.flags);
  let signature: Buffer;
  try {
    signature =
      id.source.kind === 'soft'
        ? await id.source.key.sign(req.data, req.flags)
        : await id.source.provider.sign(id.certificate?.keyBlob ?? id.blob, req.data, req.flags);
  } catch (err) {
    const where = id.source.kind === 'token' ? ` on token ${JSON.stringify(id.source.token)}` : '';
    throw new AgentRefusal(`signing with ${describeIdentity(id)}${where} failed: ${describeError(err)}`, 'error', hintOf(err));
  }
  core.log('debug', `signed ${req.data.length} bytes with ${describeIdentity(id)} as ${algorithm} (connection ${conn.id})`);
  return encodeSignResponse(signature);
}
