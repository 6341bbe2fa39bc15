// SSH signature blobs (RFC 4253 section 6.6, RFC 8332, RFC 5656 section 3.1.2, RFC 8709 section 6):
//   string algorithm / string signature
// where for ECDSA the inner string is itself  mpint r / mpint s.
import { CURVES } from './curves';
import { ecdsaCurveOfType, printable } from './key-blob';
import type { EcCurve, PublicKey } from './public-key';
import { sshKeyType } from './public-key';
import { SshReader, SshWriter, WireError } from './wire';

// SSH_AGENTC_SIGN_REQUEST flags (RFC 9987 section 5.5.1).
export const SSH_AGENT_RSA_SHA2_256 = 0x02;
export const SSH_AGENT_RSA_SHA2_512 = 0x04;

export type RsaSignatureAlgorithm = 'ssh-rsa' | 'rsa-sha2-256' | 'rsa-sha2-512';
export type SignatureHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** The RSA signature algorithm a client asks for through the sign flags (SHA-512 wins if both are set, as in OpenSSH). */
export function rsaSignatureAlgorithm(flags: number): RsaSignatureAlgorithm {
  if (flags & SSH_AGENT_RSA_SHA2_512) return 'rsa-sha2-512';
  if (flags & SSH_AGENT_RSA_SHA2_256) return 'rsa-sha2-256';
  return 'ssh-rsa';
}

/**
 * Signature algorithm name and the hash to apply for a key and the request flags.
 * `hash` is null for Ed25519, which signs the message itself.
 */
export function signatureAlgorithm(pk: PublicKey, flags: number): { algorithm: string; hash: SignatureHash | null } {
  switch (pk.kind) {
    case 'rsa': {
      const algorithm = rsaSignatureAlgorithm(flags);
      return { algorithm, hash: RSA_HASH[algorithm] };
    }
    case 'ecdsa':
      return { algorithm: sshKeyType(pk), hash: CURVES[pk.curve].hash };
    case 'ed25519':
      return { algorithm: 'ssh-ed25519', hash: null };
  }
}

const RSA_HASH: Record<RsaSignatureAlgorithm, SignatureHash> = {
  'ssh-rsa': 'sha1',
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
};

export function isRsaSignatureAlgorithm(name: string): name is RsaSignatureAlgorithm {
  return Object.prototype.hasOwnProperty.call(RSA_HASH, name);
}

export function rsaSignatureHash(algorithm: RsaSignatureAlgorithm): SignatureHash {
  return RSA_HASH[algorithm];
}

/**
 * Wraps a raw signature as the token returns it into an SSH signature blob.
 * RSA: the PKCS#1 v1.5 signature, left-padded to the modulus length (RFC 8332 section 3).
 * ECDSA: r||s, each exactly the curve's field size, as PKCS#11 CKM_ECDSA returns it.
 * Ed25519: the 64-byte signature.
 */
export function encodeSshSignature(pk: PublicKey, algorithm: string, rawSig: Buffer): Buffer {
  const w = new SshWriter().string(algorithm);
  switch (pk.kind) {
    case 'rsa': {
      if (!isRsaSignatureAlgorithm(algorithm)) throw new WireError(`"${printable(algorithm)}" is not an RSA signature algorithm`);
      const modulusBytes = significantBytes(pk.n);
      if (rawSig.length > modulusBytes) throw new WireError(`RSA signature longer than the ${modulusBytes}-byte modulus`);
      const padded = Buffer.alloc(modulusBytes);
      rawSig.copy(padded, modulusBytes - rawSig.length);
      return w.string(padded).toBuffer();
    }
    case 'ecdsa': {
      expectAlgorithm(pk, algorithm);
      const { r, s } = splitRaw(pk.curve, rawSig);
      return w.string(new SshWriter().mpint(r).mpint(s).toBuffer()).toBuffer();
    }
    case 'ed25519':
      expectAlgorithm(pk, algorithm);
      if (rawSig.length !== 64) throw new WireError(`Ed25519 signature must be 64 bytes, got ${rawSig.length}`);
      return w.string(rawSig).toBuffer();
  }
}

export interface SshSignature {
  algorithm: string;
  /**
   * The signature in the form node:crypto verifies: PKCS#1 bytes for RSA, the 64 bytes for
   * Ed25519, and r||s at fixed width for ECDSA (use `dsaEncoding: 'ieee-p1363'`).
   */
  raw: Buffer;
  /** ECDSA only: r and s as unsigned big-endian without leading zeros. */
  ecdsa?: { r: Buffer; s: Buffer };
}

export function decodeSshSignature(blob: Buffer): SshSignature {
  const rd = new SshReader(blob);
  const algorithm = rd.stringUtf8('signature algorithm');
  const body = rd.string('signature');
  rd.expectEnd('signature blob');
  const curve = ecdsaCurveOfType(algorithm);
  if (curve) {
    const inner = new SshReader(body);
    const r = inner.mpint('ECDSA r');
    const s = inner.mpint('ECDSA s');
    inner.expectEnd('ECDSA signature');
    return { algorithm, raw: joinRaw(curve, r, s), ecdsa: { r, s } };
  }
  if (algorithm === 'ssh-ed25519') {
    if (body.length !== 64) throw new WireError(`Ed25519 signature must be 64 bytes, got ${body.length}`);
    return { algorithm, raw: body };
  }
  if (isRsaSignatureAlgorithm(algorithm)) {
    if (body.length === 0) throw new WireError('empty RSA signature');
    return { algorithm, raw: body };
  }
  throw new WireError(`unsupported signature algorithm "${printable(algorithm)}"`);
}

/** Fixed-width r||s for a curve. */
export function joinRaw(curve: EcCurve, r: Buffer, s: Buffer): Buffer {
  const n = CURVES[curve].fieldBytes;
  const rr = stripZeros(r);
  const ss = stripZeros(s);
  if (rr.length > n || ss.length > n) throw new WireError(`ECDSA r or s longer than ${n} bytes for ${curve}`);
  const out = Buffer.alloc(2 * n);
  rr.copy(out, n - rr.length);
  ss.copy(out, 2 * n - ss.length);
  return out;
}

function splitRaw(curve: EcCurve, raw: Buffer): { r: Buffer; s: Buffer } {
  const n = CURVES[curve].fieldBytes;
  if (raw.length !== 2 * n) throw new WireError(`${curve} signature must be ${2 * n} bytes (r||s), got ${raw.length}`);
  return { r: raw.subarray(0, n), s: raw.subarray(n) };
}

function expectAlgorithm(pk: PublicKey, algorithm: string): void {
  if (algorithm !== sshKeyType(pk)) {
    throw new WireError(`signature algorithm "${printable(algorithm)}" does not fit a ${sshKeyType(pk)} key`);
  }
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

function significantBytes(b: Buffer): number {
  return stripZeros(b).length;
}
