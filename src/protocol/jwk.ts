// Public and private keys as JSON Web Keys (RFC 7517/7518, RFC 8037 for Ed25519): the form
// node:crypto imports and exports without any ASN.1 on our side.
import type { JsonWebKey } from 'node:crypto';
import { CURVES, curveFromJwk } from './curves';
import { ED25519_KEY_BYTES, checkEcPoint } from './key-blob';
import type { PublicKey } from './public-key';
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
