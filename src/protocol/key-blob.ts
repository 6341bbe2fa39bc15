// Public key blobs (RFC 4253 section 6.6, RFC 5656 section 3.1, RFC 8709 section 4):
//   string "ssh-rsa"              / mpint e / mpint n
//   string "ecdsa-sha2-<curve>"   / string curve / string Q (uncompressed SEC1 point)
//   string "ssh-ed25519"          / string key (32 bytes)
import { CURVES, isEcCurve } from './curves';
import type { EcCurve, PublicKey } from './public-key';
import { sshKeyType } from './public-key';
import { SshReader, SshWriter, WireError } from './wire';

export const ED25519_KEY_BYTES = 32;

export function encodePublicKeyBlob(pk: PublicKey): Buffer {
  const w = new SshWriter().string(sshKeyType(pk));
  switch (pk.kind) {
    case 'rsa':
      return w.mpint(pk.e).mpint(pk.n).toBuffer();
    case 'ecdsa':
      checkEcPoint(pk.curve, pk.point);
      return w.string(pk.curve).string(pk.point).toBuffer();
    case 'ed25519':
      checkEd25519Key(pk.key);
      return w.string(pk.key).toBuffer();
  }
}

export function decodePublicKeyBlob(blob: Buffer): PublicKey {
  const r = new SshReader(blob);
  const pk = readPublicKeyBody(r, r.stringUtf8('key type'));
  r.expectEnd('public key blob');
  return pk;
}

/** The key type name at the start of a blob, without validating the rest. */
export function peekKeyType(blob: Buffer): string {
  return new SshReader(blob).stringUtf8('key type');
}

/** Decodes the fields that follow the type name in a public key blob. */
export function readPublicKeyBody(r: SshReader, type: string): PublicKey {
  if (type === 'ssh-rsa') {
    const e = r.mpint('RSA exponent');
    const n = r.mpint('RSA modulus');
    if (e.length === 0 || n.length === 0) throw new WireError('RSA key with a zero modulus or exponent');
    return { kind: 'rsa', n, e };
  }
  if (type === 'ssh-ed25519') {
    const key = r.string('Ed25519 key');
    checkEd25519Key(key);
    return { kind: 'ed25519', key };
  }
  const curve = ecdsaCurveOfType(type);
  if (curve) {
    const named = r.stringUtf8('curve name');
    if (named !== curve) throw new WireError(`key type ${type} names curve "${named}"`);
    const point = r.string('EC point');
    checkEcPoint(curve, point);
    return { kind: 'ecdsa', curve, point };
  }
  throw new WireError(`unsupported key type "${printable(type)}"`);
}

export function ecdsaCurveOfType(type: string): EcCurve | undefined {
  const prefix = 'ecdsa-sha2-';
  if (!type.startsWith(prefix)) return undefined;
  const curve = type.slice(prefix.length);
  return isEcCurve(curve) ? curve : undefined;
}

export function isCertificateType(type: string): boolean {
  return type.endsWith('-cert-v01@openssh.com');
}

/** Only uncompressed points (0x04 || X || Y): OpenSSH neither sends nor accepts compressed ones. */
export function checkEcPoint(curve: EcCurve, point: Buffer): void {
  const want = 1 + 2 * CURVES[curve].fieldBytes;
  if (point.length !== want || point[0] !== 0x04) {
    throw new WireError(`${curve} point must be ${want} bytes starting with 0x04, got ${point.length} bytes`);
  }
}

function checkEd25519Key(key: Buffer): void {
  if (key.length !== ED25519_KEY_BYTES) {
    throw new WireError(`Ed25519 public key must be ${ED25519_KEY_BYTES} bytes, got ${key.length}`);
  }
}

/** Names from the wire may hold control characters; keep log lines single and readable. */
export function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}...` : clean;
}
