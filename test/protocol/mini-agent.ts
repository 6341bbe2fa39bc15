// A tiny agent built on our codec for tests: holds the keys it is given (ADD_IDENTITY) and
// signs with node:crypto. Judged by real OpenSSH clients, it proves the codec end to end.
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { decodeRequest, encodeFailure, encodeIdentitiesAnswer, encodeSignResponse, encodeSuccess } from '../../src/protocol/agent-messages';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import type { PublicKey } from '../../src/protocol/public-key';
import { encodeSshSignature, signatureAlgorithm } from '../../src/protocol/signature';

/** A tiny in-test agent on our codec: holds the keys ssh-add gives it and signs with node:crypto. */
export function miniAgent(): { reply: (body: Buffer) => Buffer; keys: Map<string, { pk: PublicKey; priv: KeyObject; comment: string }> } {
  const keys = new Map<string, { pk: PublicKey; priv: KeyObject; comment: string }>();
  const reply = (body: Buffer): Buffer => {
    const req = decodeRequest(body);
    switch (req.type) {
      case 'SSH_AGENTC_ADD_IDENTITY':
      case 'SSH_AGENTC_ADD_ID_CONSTRAINED': {
        const blob = encodePublicKeyBlob(req.key.publicKey);
        keys.set(blob.toString('hex'), {
          pk: req.key.publicKey,
          priv: createPrivateKey({ key: req.key.jwk, format: 'jwk' }),
          comment: req.key.comment,
        });
        return encodeSuccess();
      }
      case 'SSH_AGENTC_REQUEST_IDENTITIES':
        return encodeIdentitiesAnswer(
          [...keys.entries()].map(([hex, k]) => ({ blob: Buffer.from(hex, 'hex'), comment: k.comment })),
        );
      case 'SSH_AGENTC_SIGN_REQUEST': {
        const k = keys.get(req.keyBlob.toString('hex'));
        if (!k) return encodeFailure();
        const { algorithm, hash } = signatureAlgorithm(k.pk, req.flags);
        const raw =
          k.pk.kind === 'ecdsa' ? sign(hash, req.data, { key: k.priv, dsaEncoding: 'ieee-p1363' }) : sign(hash, req.data, k.priv);
        return encodeSignResponse(encodeSshSignature(k.pk, algorithm, raw));
      }
      default:
        return encodeFailure();
    }
  };
  return { reply, keys };
}

