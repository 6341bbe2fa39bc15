// Bridges to node:crypto: public keys as JWK / KeyObject, and SSH signature verification
// (the agent checks session-bind@openssh.com signatures with it; tests use it as a judge).
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CURVES, curveFromJwk } from './curves';
import { ED25519_KEY_BYTES, checkEcPoint } from './key-blob';
import type { PublicKey } from './public-key';
import { decodeSshSignature, isRsaSignatureAlgorithm, signatureAlgorithm, type RsaSignatureAlgorithm } from './signature';
import { sshKeyType } from './public-key';
import { WireError } from './wire';

export function publicKeyToJwk(pk: PublicKey): JsonWebKey {
  switch (pk.kind) {
    case 'rsa':
      return { kty: 'RSA', n: b64u(pk.n), e: b64u(pk.e) };
    case 'ecdsa': {
      const n = CURVES[pk.curve].fieldBytes;
      return {
        kty: 'EC',
        crv: CURVES[pk.curve].jwkCurve,
        x: b64u(pk.point.subarray(1, 1 + n)),
        y: b64u(pk.point.subarray(1 + n)),
      };
    }
    case 'ed25519':
      return { kty: 'OKP', crv: 'Ed25519', x: b64u(pk.key) };
  }
}

/** The public half of a JWK (public or private) in the shared PublicKey shape. */
export function publicKeyFromJwk(jwk: JsonWebKey): PublicKey {
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    return { kind: 'rsa', n: stripZeros(fromB64u(jwk.n)), e: stripZeros(fromB64u(jwk.e)) };
  }
  if (jwk.kty === 'EC' && jwk.x && jwk.y) {
    const curve = curveFromJwk(jwk.crv);
    if (!curve) throw new WireError(`unsupported JWK curve "${jwk.crv}"`);
    const n = CURVES[curve].fieldBytes;
    const point = Buffer.concat([Buffer.of(4), leftPad(fromB64u(jwk.x), n), leftPad(fromB64u(jwk.y), n)]);
    checkEcPoint(curve, point);
    return { kind: 'ecdsa', curve, point };
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) {
    const key = fromB64u(jwk.x);
    if (key.length !== ED25519_KEY_BYTES) throw new WireError('Ed25519 JWK "x" must be 32 bytes');
    return { kind: 'ed25519', key };
  }
  throw new WireError(`unsupported JWK (kty ${jwk.kty}, crv ${jwk.crv ?? '-'})`);
}

export function publicKeyToKeyObject(pk: PublicKey): KeyObject {
  return createPublicKey({ key: publicKeyToJwk(pk), format: 'jwk' });
}

/**
 * True when `sigBlob` is a valid SSH signature by `pk` over `data`. A signature whose
 * algorithm does not belong to the key is false, not an exception.
 */
export function verifySshSignature(pk: PublicKey, sigBlob: Buffer, data: Buffer): boolean {
  const sig = decodeSshSignature(sigBlob);
  let hash: string | null;
  if (pk.kind === 'rsa') {
    if (!isRsaSignatureAlgorithm(sig.algorithm)) return false;
    const flags = { 'ssh-rsa': 0, 'rsa-sha2-256': 2, 'rsa-sha2-512': 4 }[sig.algorithm as RsaSignatureAlgorithm];
    hash = signatureAlgorithm(pk, flags).hash;
  } else {
    if (sig.algorithm !== sshKeyType(pk)) return false;
    hash = signatureAlgorithm(pk, 0).hash;
  }
  const key = publicKeyToKeyObject(pk);
  if (pk.kind === 'ecdsa') return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig.raw);
  return verify(hash, data, key, sig.raw);
}

export function b64u(b: Buffer): string {
  return b.toString('base64url');
}

export function fromB64u(s: string): Buffer {
  return Buffer.from(s, 'base64url');
}

export function leftPad(b: Buffer, n: number): Buffer {
  const m = stripZeros(b);
  if (m.length > n) throw new WireError(`value longer than ${n} bytes`);
  const out = Buffer.alloc(n);
  m.copy(out, n - m.length);
  return out;
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}
