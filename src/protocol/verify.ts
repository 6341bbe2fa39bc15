// SSH signature verification with node:crypto: the agent checks session-bind@openssh.com
// host signatures with it, and tests use it as a judge of what tokens and agents sign.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { publicKeyToJwk } from './jwk';
import { sshKeyType, type PublicKey } from './public-key';
import { decodeSshSignature, isRsaSignatureAlgorithm, rsaSignatureHash, signatureAlgorithm } from './signature';
import { WireError } from './wire';

/** WireError when the crypto library refuses the key (e.g. an EC point off its curve). */
export function publicKeyToKeyObject(pk: PublicKey): KeyObject {
  try {
    return createPublicKey({ key: publicKeyToJwk(pk), format: 'jwk' });
  } catch (e) {
    throw new WireError(`${sshKeyType(pk)} public key rejected by the crypto library (${(e as { code?: string }).code ?? 'invalid key'})`);
  }
}

/**
 * True when `sigBlob` is a valid SSH signature by `pk` over `data`. A signature whose
 * algorithm does not belong to the key is false, not an exception.
 */
export function verifySshSignature(pk: PublicKey, sigBlob: Buffer, data: Buffer): boolean {
  const sig = decodeSshSignature(sigBlob);
  let hash: string | null;
  if (pk.kind === 'rsa') {
    // Any of the three RSA algorithms is acceptable for an RSA key; the blob says which.
    if (!isRsaSignatureAlgorithm(sig.algorithm)) return false;
    hash = rsaSignatureHash(sig.algorithm);
  } else {
    if (sig.algorithm !== sshKeyType(pk)) return false;
    hash = signatureAlgorithm(pk, 0).hash;
  }
  const key = publicKeyToKeyObject(pk);
  try {
    if (pk.kind === 'ecdsa') return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig.raw);
    return verify(hash, data, key, sig.raw);
  } catch {
    // OpenSSL refuses some malformed signatures outright instead of returning false.
    return false;
  }
}
