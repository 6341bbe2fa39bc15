// OpenSSH certificates (PROTOCOL.certkeys; draft-miller-ssh-cert): a public key, its
// identity and validity, signed by a CA key. Every certificate blob has the same shape:
//   string type ("<key type>-cert-v01@openssh.com") / string nonce / <public key fields>
//   uint64 serial / uint32 type / string key id / string valid principals
//   uint64 valid after / uint64 valid before / string critical options / string extensions
//   string reserved / string signature key / string signature
// where the signature covers every byte before it. The agent holds certificates for
// file keys and token keys, and matches host certificates in destination constraints.
import { decodePublicKeyBlob, encodePublicKeyBlob, isCertificateType, printable, readPublicKeyBody } from './key-blob';
import type { PublicKey } from './public-key';
import { verifySshSignature } from './verify';
import { SshReader, WireError } from './wire';

export const SSH2_CERT_TYPE_USER = 1;
export const SSH2_CERT_TYPE_HOST = 2;

const CERT_SUFFIX = '-cert-v01@openssh.com';
/** The key types whose certificates the agent understands (no DSA, no FIDO). */
const CERTIFIABLE = new Set(['ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);
/** "valid before" of a certificate that never expires (ssh-keygen -V forever). */
export const CERT_FOREVER = 0xffffffffffffffffn;

export interface CertificateOption {
  name: string;
  data: Buffer;
}

export interface SshCertificate {
  /** e.g. `ssh-ed25519-cert-v01@openssh.com` */
  type: string;
  /** The certified key, which makes every signature. */
  publicKey: PublicKey;
  /** Its plain public key blob, e.g. `ssh-ed25519 ...` as on a token. */
  keyBlob: Buffer;
  serial: bigint;
  certType: number;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: CertificateOption[];
  extensions: CertificateOption[];
  /** The CA's public key blob. */
  signatureKey: Buffer;
  signature: Buffer;
  /** The bytes the CA signed: the blob up to and including the signature key. */
  signedBytes: Buffer;
  /** The whole certificate blob (a copy). */
  blob: Buffer;
}

/** The plain key type a certificate type certifies, or undefined for a type we cannot hold. */
export function certifiedKeyType(certType: string): string | undefined {
  if (!certType.endsWith(CERT_SUFFIX)) return undefined;
  const base = certType.slice(0, -CERT_SUFFIX.length);
  return CERTIFIABLE.has(base) ? base : undefined;
}

/** Decodes a certificate blob; WireError if it is malformed or of a type the agent cannot hold. */
export function decodeCertificate(blob: Buffer): SshCertificate {
  const copy = Buffer.from(blob);
  const r = new SshReader(copy);
  const type = r.stringUtf8('certificate type');
  const base = certifiedKeyType(type);
  if (!base) {
    throw new WireError(isCertificateType(type) ? `unsupported certificate type "${printable(type)}"` : `"${printable(type)}" is not a certificate`);
  }
  r.string('certificate nonce');
  const publicKey = readPublicKeyBody(r, base);
  const serial = r.uint64();
  const certType = r.uint32();
  const keyId = r.stringUtf8('certificate key id', true);
  const principals = readNames(new SshReader(r.string('valid principals')));
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  const criticalOptions = readOptions(new SshReader(r.string('critical options')), 'critical option');
  const extensions = readOptions(new SshReader(r.string('extensions')), 'extension');
  r.string('reserved');
  const signatureKey = r.string('signature key');
  const signedBytes = copy.subarray(0, copy.length - r.remaining);
  const signature = r.string('certificate signature');
  r.expectEnd('certificate');
  if (certType !== SSH2_CERT_TYPE_USER && certType !== SSH2_CERT_TYPE_HOST) throw new WireError(`unknown certificate type ${certType}`);
  return {
    type,
    publicKey,
    keyBlob: encodePublicKeyBlob(publicKey),
    serial,
    certType,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
    signature,
    signedBytes,
    blob: copy,
  };
}

/**
 * Decodes a certificate and checks the CA's signature over it, as OpenSSH does whenever it
 * parses one. A CA key that is itself a certificate is refused (no chains).
 */
export function decodeVerifiedCertificate(blob: Buffer): SshCertificate {
  const cert = decodeCertificate(blob);
  verifyCertificate(cert);
  return cert;
}

/** Throws WireError unless the CA's signature over the certificate verifies. */
export function verifyCertificate(cert: SshCertificate): void {
  const ca = decodePublicKeyBlob(cert.signatureKey);
  if (!verifySshSignature(ca, cert.signature, cert.signedBytes)) {
    throw new WireError(`certificate "${printable(cert.keyId)}" has an invalid CA signature`);
  }
}

/** The signature algorithm the CA used, e.g. `ssh-ed25519` or `rsa-sha2-512`. */
export function certificateSignatureAlgorithm(cert: SshCertificate): string {
  return new SshReader(cert.signature).stringUtf8('signature algorithm');
}

// string { string name }*
function readNames(r: SshReader): string[] {
  const names: string[] = [];
  while (!r.atEnd) names.push(r.stringUtf8('principal', true));
  return names;
}

// { string name / string data }*, names in order and each once (PROTOCOL.certkeys).
function readOptions(r: SshReader, what: string): CertificateOption[] {
  const out: CertificateOption[] = [];
  while (!r.atEnd) {
    const name = r.stringUtf8(`${what} name`);
    const data = r.string(`${what} data`);
    out.push({ name, data });
  }
  return out;
}
