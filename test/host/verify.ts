// Independent check of an SSH signature blob with node:crypto, for the host tests.
import { createPublicKey, verify } from 'node:crypto';
import { publicKeyToJwk } from '../../src/pkcs11/key-material';
import type { PublicKey } from '../../src/protocol/public-key';
import { decodeSshSignature } from '../../src/protocol/signature';

const EC_HASH = { nistp256: 'sha256', nistp384: 'sha384', nistp521: 'sha512' } as const;
const RSA_HASH: Record<string, string> = { 'ssh-rsa': 'sha1', 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512' };

/** Verifies `sigBlob` over `data` and returns its algorithm name; throws when it does not verify. */
export function verifySshSignature(pk: PublicKey, data: Buffer, sigBlob: Buffer): string {
  const sig = decodeSshSignature(sigBlob);
  const key = createPublicKey({ key: publicKeyToJwk(pk), format: 'jwk' });
  let ok: boolean;
  if (pk.kind === 'ed25519') ok = verify(null, data, key, sig.raw);
  else if (pk.kind === 'ecdsa') ok = verify(EC_HASH[pk.curve], data, { key, dsaEncoding: 'ieee-p1363' }, sig.raw);
  else ok = verify(RSA_HASH[sig.algorithm], data, key, sig.raw);
  if (!ok) throw new Error(`${sig.algorithm} signature does not verify`);
  return sig.algorithm;
}
