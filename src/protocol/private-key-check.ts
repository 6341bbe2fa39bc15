// Checks that a private key from ADD_IDENTITY is usable and belongs to the public key it
// arrived with, as OpenSSH does on deserialisation (sshkey_ec_validate_private and friends).
// Without this, a corrupt key would be accepted and then produce signatures nobody verifies.
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { CURVES } from './curves';
import type { EcCurve } from './public-key';
import { fromB64u } from './jwk';
import { WireError } from './wire';

// DER prefixes for keys given by their private part only, so OpenSSL derives the public part.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const CURVE_OID: Record<EcCurve, string> = {
  nistp256: '06082a8648ce3d030107',
  nistp384: '06052b81040022',
  nistp521: '06052b81040023',
};

/** Throws WireError unless `jwk`'s private part derives exactly its own public part. */
export function checkPrivateJwk(jwk: JsonWebKey, curve?: EcCurve): void {
  try {
    if (jwk.kty === 'OKP') {
      const der = Buffer.concat([ED25519_PKCS8_PREFIX, fromB64u(jwk.d!)]);
      const derived = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
      if (derived.x !== jwk.x) throw new WireError('Ed25519 private key does not match its public key');
      return;
    }
    if (jwk.kty === 'EC' && curve) {
      // RFC 5915 ECPrivateKey { version 1, privateKey, [0] parameters } without the public key.
      const d = fromB64u(jwk.d!);
      const oid = Buffer.from(CURVE_OID[curve], 'hex');
      const body = Buffer.concat([
        Buffer.from('020101', 'hex'),
        Buffer.of(0x04, d.length),
        d,
        Buffer.of(0xa0, oid.length),
        oid,
      ]);
      const der = Buffer.concat([Buffer.of(0x30), derLength(body.length), body]);
      const derived = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'sec1' })).export({ format: 'jwk' });
      if (derived.x !== jwk.x || derived.y !== jwk.y) throw new WireError(`${curve} private key does not match its public key`);
      if (d.length !== CURVES[curve].fieldBytes) throw new WireError(`${curve} private scalar has the wrong length`);
      return;
    }
    createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (e) {
    if (e instanceof WireError) throw e;
    throw new WireError(`private key rejected by the crypto library (${(e as { code?: string }).code ?? 'invalid key'})`);
  }
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.of(n) : Buffer.of(0x81, n);
}
