// Ordinary private keys added with `ssh-add FILE` (SSH_AGENTC_ADD_IDENTITY), held as
// node:crypto KeyObjects: RSA PKCS#1 v1.5 with the hash the flags ask for, ECDSA with the
// curve's hash, Ed25519 over the message itself. Signing runs on libuv's thread pool (the
// callback form of crypto.sign), so a 4096-bit RSA key never stalls other clients.
import { createPrivateKey, createPublicKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { PublicKey } from '../protocol/public-key';
import { encodeSshSignature, signatureAlgorithm } from '../protocol/signature';
import { publicKeyToKeyObject } from '../protocol/verify';

export class SoftKey {
  private constructor(
    readonly publicKey: PublicKey,
    private readonly privateKey: KeyObject,
  ) {}

  /** Throws when the private part does not belong to the public key sent with it. */
  static fromJwk(publicKey: PublicKey, jwk: JsonWebKey): SoftKey {
    const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
    // A client could pair one key's public half with another's private half; the listing
    // would then lie about which key signs.
    const derived = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    const claimed = publicKeyToKeyObject(publicKey).export({ format: 'der', type: 'spki' });
    if (!derived.equals(claimed)) throw new Error('private key does not match its public key');
    return new SoftKey(publicKey, privateKey);
  }

  sign(data: Buffer, flags: number): Promise<Buffer> {
    const { algorithm, hash } = signatureAlgorithm(this.publicKey, flags);
    const key = this.publicKey.kind === 'ecdsa' ? { key: this.privateKey, dsaEncoding: 'ieee-p1363' as const } : this.privateKey;
    return new Promise((resolve, reject) =>
      sign(hash, data, key, (err, raw) => {
        if (err) reject(err);
        else resolve(encodeSshSignature(this.publicKey, algorithm, raw));
      }),
    );
  }
}
