// Private keys inside SSH_AGENTC_ADD_IDENTITY / SSH_AGENTC_ADD_ID_CONSTRAINED (RFC 9987
// section 5.2; the same field order as OpenSSH's sshkey_private_serialize):
//   ssh-rsa:          string "ssh-rsa" / mpint n / mpint e / mpint d / mpint iqmp / mpint p / mpint q
//   ecdsa-sha2-*:     string type / string curve / string Q / mpint d
//   ssh-ed25519:      string "ssh-ed25519" / string ENC(A) (32) / string k || ENC(A) (64)
// each followed by  string comment. Certificate keys (type "<type>-cert-v01@openssh.com")
// start with the certificate blob and leave out the public fields it already holds
// (sshkey_private_deserialize):
//   ssh-rsa-cert:     string type / string cert / mpint d / mpint iqmp / mpint p / mpint q
//   ecdsa-*-cert:     string type / string cert / mpint d
//   ssh-ed25519-cert: string type / string cert / string ENC(A) / string k || ENC(A)
// Decoded keys come out as JWK so node:crypto can `createPrivateKey({ key: jwk, format: 'jwk' })`.
import type { JsonWebKey } from 'node:crypto';
import { CURVES } from './curves';
import { checkPrivateJwk } from './private-key-check';
import { certifiedKeyType, decodeCertificate, type SshCertificate } from './certificate';
import { checkEcPoint, ecdsaCurveOfType, isCertificateType, printable } from './key-blob';
import { sshKeyType, type PublicKey } from './public-key';
import { b64u, fromB64u, leftPad, publicKeyFromJwk, publicKeyToJwk } from './jwk';
import { SshReader, SshWriter, WireError } from './wire';

export interface PrivateKeyMaterial {
  publicKey: PublicKey;
  jwk: JsonWebKey;
  comment: string;
  /** Certificate keys: the certificate, whose certified key is `publicKey`. Its CA signature is not checked here. */
  certificate?: SshCertificate;
}

/** A key type the agent cannot hold (certificates, ssh-dss, security keys). Still a WireError. */
export class UnsupportedKeyTypeError extends WireError {
  constructor(readonly keyType: string) {
    super(
      isCertificateType(keyType)
        ? `unsupported certificate key type "${printable(keyType)}"`
        : `unsupported key type "${printable(keyType)}"`,
    );
    this.name = 'UnsupportedKeyTypeError';
  }
}

export function readPrivateKey(r: SshReader): PrivateKeyMaterial {
  const type = r.stringUtf8('key type');
  let certificate: SshCertificate | undefined;
  let base = type;
  if (isCertificateType(type)) {
    const certified = certifiedKeyType(type);
    if (!certified) throw new UnsupportedKeyTypeError(type);
    certificate = decodeCertificate(r.string('certificate'));
    if (certificate.type !== type) throw new WireError(`${printable(type)} key carries a ${certificate.type} certificate`);
    base = certified;
  }
  const fromCert = certificate?.publicKey;
  let publicKey: PublicKey;
  let jwk: JsonWebKey;
  if (base === 'ssh-rsa') {
    const n = fromCert?.kind === 'rsa' ? fromCert.n : r.mpint('RSA n');
    const e = fromCert?.kind === 'rsa' ? fromCert.e : r.mpint('RSA e');
    const d = r.mpint('RSA d');
    const iqmp = r.mpint('RSA iqmp');
    const p = r.mpint('RSA p');
    const q = r.mpint('RSA q');
    ({ publicKey, jwk } = rsaJwk(n, e, d, iqmp, p, q));
  } else if (base === 'ssh-ed25519') {
    const pk = r.string('Ed25519 public key');
    const sk = r.string('Ed25519 private key');
    if (pk.length !== 32 || sk.length !== 64) throw new WireError('Ed25519 key must have a 32-byte public and 64-byte private part');
    // OpenSSH stores seed || public key; a mismatch means a corrupt or forged key.
    if (!sk.subarray(32).equals(pk)) throw new WireError('Ed25519 private key does not contain its public key');
    if (fromCert?.kind === 'ed25519' && !fromCert.key.equals(pk)) throw new WireError('Ed25519 key differs from its certificate');
    publicKey = { kind: 'ed25519', key: Buffer.from(pk) };
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(pk), d: b64u(sk.subarray(0, 32)) };
    checkPrivateJwk(jwk);
  } else {
    const curve = ecdsaCurveOfType(base);
    if (!curve) throw new UnsupportedKeyTypeError(type);
    let point: Buffer;
    if (fromCert?.kind === 'ecdsa') {
      point = fromCert.point;
    } else {
      const named = r.stringUtf8('curve name');
      if (named !== curve) throw new WireError(`key type ${type} names curve "${printable(named)}"`);
      point = r.string('EC point');
      checkEcPoint(curve, point);
    }
    const d = r.mpint('EC private scalar');
    if (d.length === 0) throw new WireError('EC private scalar is zero');
    publicKey = { kind: 'ecdsa', curve, point: Buffer.from(point) };
    jwk = { ...publicKeyToJwk(publicKey), d: b64u(leftPad(d, CURVES[curve].fieldBytes)) };
    checkPrivateJwk(jwk, curve);
  }
  const comment = r.stringUtf8('key comment', true);
  return certificate ? { publicKey, jwk, comment, certificate } : { publicKey, jwk, comment };
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

/**
 * Writes a private key (from its JWK) in the ADD_IDENTITY layout, comment included; with
 * `certificate` (a certificate blob for the same key), as that certificate key.
 */
export function writePrivateKey(w: SshWriter, key: { jwk: JsonWebKey; comment: string; certificate?: Buffer | SshCertificate }): SshWriter {
  const publicKey = publicKeyFromJwk(key.jwk);
  const jwk = key.jwk;
  const need = (v: string | undefined, name: string): Buffer => {
    if (!v) throw new WireError(`private JWK lacks "${name}"`);
    return fromB64u(v);
  };
  const cert = key.certificate && (Buffer.isBuffer(key.certificate) ? key.certificate : key.certificate.blob);
  if (cert) w.string(new SshReader(cert).stringUtf8('certificate type')).string(cert);
  else w.string(sshKeyType(publicKey));
  switch (publicKey.kind) {
    case 'rsa':
      if (!cert) w.mpint(publicKey.n).mpint(publicKey.e);
      w.mpint(need(jwk.d, 'd')).mpint(need(jwk.qi, 'qi'));
      w.mpint(need(jwk.p, 'p')).mpint(need(jwk.q, 'q'));
      break;
    case 'ecdsa':
      if (!cert) w.string(publicKey.curve).string(publicKey.point);
      w.mpint(need(jwk.d, 'd'));
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
