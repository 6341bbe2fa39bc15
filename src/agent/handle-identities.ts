// SSH_AGENTC_REQUEST_IDENTITIES, SSH_AGENTC_ADD_IDENTITY / _ADD_ID_CONSTRAINED,
// SSH_AGENTC_REMOVE_IDENTITY and SSH_AGENTC_REMOVE_ALL_IDENTITIES.
import { encodeIdentitiesAnswer, encodeSuccess } from '../protocol/agent-responses';
import { decodeVerifiedCertificate, type SshCertificate } from '../protocol/certificate';
import { encodePublicKeyBlob } from '../protocol/key-blob';
import { describeConstraints, toIdentityConstraints } from './constraints';
import type { RequestContext, RequestOf } from './context';
import { describeIdentity } from './core';
import { identityPermitted } from './destination';
import { offeredIdentities } from './offered-keys';
import { AgentRefusal, describeError } from './refusal';
import { SoftKey } from './soft-key';
import { refusedKey } from './key-policy';

export function requestIdentities(_req: RequestOf<'SSH_AGENTC_REQUEST_IDENTITIES'>, { core, conn }: RequestContext): Buffer {
  // A forwarded connection only sees keys its destination constraints let it use.
  const permitted = core.identities.list().filter((id) => identityPermitted(id.constraints.destinations, conn, null).ok);
  // A connection bound to a login may see only the keys the configuration picks for that host.
  const visible = offeredIdentities(core, conn, permitted);
  return encodeIdentitiesAnswer(visible.map((id) => ({ blob: id.blob, comment: id.comment })));
}

export function addIdentity(req: RequestOf<'SSH_AGENTC_ADD_IDENTITY' | 'SSH_AGENTC_ADD_ID_CONSTRAINED'>, { core }: RequestContext): Buffer {
  const weak = refusedKey(req.key.publicKey);
  if (weak) throw new AgentRefusal(`private key rejected: ${weak}`);
  const constraints = toIdentityConstraints(req.constraints, core.config.defaultLifetime);
  let key: SoftKey;
  try {
    key = SoftKey.fromJwk(req.key.publicKey, req.key.jwk);
  } catch (err) {
    throw new AgentRefusal(`private key rejected: ${describeError(err)}`);
  }
  // A certificate key (ssh-add FILE with FILE-cert.pub beside it) is listed as the
  // certificate and signs with the key; the plain key is a separate identity of its own.
  let certificate: SshCertificate | undefined;
  if (req.key.certificate) {
    try {
      certificate = decodeVerifiedCertificate(req.key.certificate.blob);
    } catch (err) {
      throw new AgentRefusal(`certificate rejected: ${describeError(err)}`);
    }
  }
  const identity = {
    blob: certificate ? certificate.blob : encodePublicKeyBlob(req.key.publicKey),
    publicKey: req.key.publicKey,
    certificate,
    comment: req.key.comment,
    source: { kind: 'soft' as const, key },
    constraints,
  };
  core.identities.add(identity);
  core.log('info', `added ${describeIdentity(identity)}${describeConstraints(constraints)}`);
  return encodeSuccess();
}

export function removeIdentity(req: RequestOf<'SSH_AGENTC_REMOVE_IDENTITY'>, { core }: RequestContext): Buffer {
  const removed = core.identities.remove(req.keyBlob);
  if (!removed) throw new AgentRefusal('key to remove is not in the agent', 'info');
  core.log('info', `removed ${describeIdentity(removed)}`);
  return encodeSuccess();
}

export async function removeAllIdentities(_req: RequestOf<'SSH_AGENTC_REMOVE_ALL_IDENTITIES'>, { core }: RequestContext): Promise<Buffer> {
  const n = core.identities.size;
  const modules = [...core.providers.keys()];
  // Token keys go too (as in OpenSSH): a later `ssh-add -s` of the same module starts afresh.
  await core.unloadAll();
  core.log('info', `removed all ${n} identities${modules.length ? `; unloaded ${modules.join(', ')}` : ''}`);
  return encodeSuccess();
}
