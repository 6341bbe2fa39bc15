// Private keys inside SSH_AGENTC_ADD_IDENTITY / SSH_AGENTC_ADD_ID_CONSTRAINED (RFC 9987
// section 5.2; the same field order as OpenSSH's sshkey_private_serialize):
//   ssh-rsa:          string "ssh-rsa" / mpint n / mpint e / mpint d / mpint iqmp / mpint p / mpint q
//   ecdsa-sha2-*:     string type / string curve / string Q / mpint d
//   ssh-ed25519:      string "ssh-ed25519" / string ENC(A) (32) / string k || ENC(A) (64)
// each followed by  string comment.
// Decoded keys come out as JWK so node:crypto can `createPrivateKey({ key: jwk, format: 'jwk' })`.
import type { JsonWebKey } from 'node:crypto';
import { CURVES } from './curves';
import { checkPrivateJwk } from './private-key-check';
import { checkEcPoint, ecdsaCurveOfType, isCertificateType, printable } from './key-blob';
import { sshKeyType, type PublicKey } from './public-key';
import { b64u, fromB64u, leftPad, publicKeyFromJwk, publicKeyToJwk } from './jwk';
import { SshReader, SshWriter, WireError } from './wire';

export interface PrivateKeyMaterial {
  publicKey: PublicKey;
  jwk: JsonWebKey;
  comment: string;
}

/** A key type the agent cannot hold (certificates, ssh-dss, security keys). Still a WireError. */
export class UnsupportedKeyTypeError extends WireError {
  constructor(readonly keyType: string) {
    super(
      isCertificateType(keyType)
        ? `certificate keys (${printable(keyType)}) are not supported; add the plain key instead`
        : `unsupported key type "${printable(keyType)}"`,
    );
    this.name = 'UnsupportedKeyTypeError';
  }
}

export function readPrivateKey(r: SshReader): PrivateKeyMaterial {
  const type = r.stringUtf8('key type');
  let publicKey: PublicKey;
  let jwk: JsonWebKey;
  if (type === 'ssh-rsa') {
    const n = r.mpint('RSA n');
    const e = r.mpint('RSA e');
    const d = r.mpint('RSA d');
    const iqmp = r.mpint('RSA iqmp');
    const p = r.mpint('RSA p');
    const q = r.mpint('RSA q');
    ({ publicKey, jwk } = rsaJwk(n, e, d, iqmp, p, q));
  } else if (type === 'ssh-ed25519') {
    const pk = r.string('Ed25519 public key');
    const sk = r.string('Ed25519 private key');
    if (pk.length !== 32 || sk.length !== 64) throw new WireError('Ed25519 key must have a 32-byte public and 64-byte private part');
    // OpenSSH stores seed || public key; a mismatch means a corrupt or forged key.
    if (!sk.subarray(32).equals(pk)) throw new WireError('Ed25519 private key does not contain its public key');
    publicKey = { kind: 'ed25519', key: Buffer.from(pk) };
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(pk), d: b64u(sk.subarray(0, 32)) };
    checkPrivateJwk(jwk);
  } else {
    const curve = ecdsaCurveOfType(type);
    if (!curve) throw new UnsupportedKeyTypeError(type);
    const named = r.stringUtf8('curve name');
    if (named !== curve) throw new WireError(`key type ${type} names curve "${printable(named)}"`);
    const point = r.string('EC point');
    checkEcPoint(curve, point);
    const d = r.mpint('EC private scalar');
    if (d.length === 0) throw new WireError('EC private scalar is zero');
    publicKey = { kind: 'ecdsa', curve, point: Buffer.from(point) };
    jwk = { ...publicKeyToJwk(publicKey), d: b64u(leftPad(d, CURVES[curve].fieldBytes)) };
    checkPrivateJwk(jwk, curve);
  }
  const comment = r.stringUtf8('key comment', true);
  return { publicKey, jwk, comment };
}

function rsaJwk(n: Buffer, e: Buffer, d: Buffer, iqmp: Buffer, p: Buffer, q: Buffer): { publicKey: PublicKey; jwk: JsonWebKey } {
  const [N, E, D, IQMP, P, Q] = [n, e, d, iqmp, p, q].map(toBig);
  if (N === 0n || E === 0n || D === 0n || P <= 1n || Q <= 1n || P * Q !== N) {
    throw new WireError('RSA private key components are inconsistent (n != p*q)');
  }
  // d must invert e modulo p-1 and q-1, and iqmp must be q^-1 mod p, or CRT signing goes wrong.
  if ((E * D) % (P - 1n) !== 1n || (E * D) % (Q - 1n) !== 1n || (IQMP * Q) % P !== 1n) {
    throw new WireError('RSA private key components are inconsistent (d or iqmp)');
  }
  const publicKey: PublicKey = { kind: 'rsa', n: Buffer.from(n), e: Buffer.from(e) };
  // JWK wants the CRT exponents that the SSH format leaves out; OpenSSH recomputes them too.
  const jwk: JsonWebKey = {
    ...publicKeyToJwk(publicKey),
    d: b64u(d),
    p: b64u(p),
    q: b64u(q),
    dp: b64u(fromBig(D % (P - 1n))),
    dq: b64u(fromBig(D % (Q - 1n))),
    qi: b64u(iqmp),
  };
  checkPrivateJwk(jwk);
  return { publicKey, jwk };
}

/** Writes a private key (from its JWK) in the ADD_IDENTITY layout, comment included. */
export function writePrivateKey(w: SshWriter, key: { jwk: JsonWebKey; comment: string }): SshWriter {
  const publicKey = publicKeyFromJwk(key.jwk);
  const jwk = key.jwk;
  const need = (v: string | undefined, name: string): Buffer => {
    if (!v) throw new WireError(`private JWK lacks "${name}"`);
    return fromB64u(v);
  };
  w.string(sshKeyType(publicKey));
  switch (publicKey.kind) {
    case 'rsa':
      w.mpint(publicKey.n).mpint(publicKey.e).mpint(need(jwk.d, 'd')).mpint(need(jwk.qi, 'qi'));
      w.mpint(need(jwk.p, 'p')).mpint(need(jwk.q, 'q'));
      break;
    case 'ecdsa':
      w.string(publicKey.curve).string(publicKey.point).mpint(need(jwk.d, 'd'));
      break;
    case 'ed25519':
      w.string(publicKey.key).string(Buffer.concat([need(jwk.d, 'd'), publicKey.key]));
      break;
  }
  return w.string(key.comment);
}

function toBig(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`);
}

function fromBig(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}
