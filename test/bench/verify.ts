// The judge of every signature the benchmark collects: node:crypto, from the SSH public key.
// Runs after a round, not during it, so checking never slows the signer being measured.
import { verify, type KeyObject } from 'node:crypto';
import { decodePublicKeyBlob } from '../../src/protocol/key-blob';
import type { PublicKey } from '../../src/protocol/public-key';
import { decodeSshSignature } from '../../src/protocol/signature';
import { publicKeyToKeyObject } from '../../src/protocol/verify';

const EC_HASH = { nistp256: 'sha256', nistp384: 'sha384', nistp521: 'sha512' } as const;

export interface Verifier {
  publicKey: PublicKey;
  /** true when `sigBlob` is an SSH signature of the expected algorithm by this key over `data` */
  check(data: Buffer, sigBlob: Buffer): boolean;
}

/** `flags` of the SIGN_REQUEST decide the RSA algorithm the signature must carry. */
export function verifierFor(keyBlob: Buffer, flags: number): Verifier {
  const pk = decodePublicKeyBlob(keyBlob);
  const key: KeyObject = publicKeyToKeyObject(pk);
  let algorithm: string;
  let hash: string | null;
  let opts: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } = key;
  switch (pk.kind) {
    case 'rsa':
      [algorithm, hash] = flags & 4 ? ['rsa-sha2-512', 'sha512'] : flags & 2 ? ['rsa-sha2-256', 'sha256'] : ['ssh-rsa', 'sha1'];
      break;
    case 'ecdsa':
      algorithm = `ecdsa-sha2-${pk.curve}`;
      hash = EC_HASH[pk.curve];
      opts = { key, dsaEncoding: 'ieee-p1363' };
      break;
    case 'ed25519':
      algorithm = 'ssh-ed25519';
      hash = null;
      break;
  }
  return {
    publicKey: pk,
    check(data, sigBlob) {
      try {
        const sig = decodeSshSignature(sigBlob);
        return sig.algorithm === algorithm && verify(hash, data, opts, sig.raw);
      } catch {
        return false;
      }
    },
  };
}
