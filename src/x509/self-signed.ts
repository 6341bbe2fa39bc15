// An X.509 v3 self-signed certificate (RFC 5280) for a key whose private half lives elsewhere:
// the TBSCertificate is built here and signed by a callback — in practice the token.
import { createHash, createPublicKey, randomBytes as cryptoRandomBytes, verify } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectKeyIdentifier,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import type { PublicKey } from '../protocol/public-key';
import { derUnsignedInteger } from './der';
import { parseDistinguishedName } from './distinguished-name';
import { CertificateInputError } from './x509-errors';
import {
  signatureAlgorithmIdentifier,
  signatureSchemeFor,
  signatureValueFromSigner,
  type SignatureScheme,
} from './signature-algorithm';
import { subjectPublicKeyInfo, toArrayBuffer } from './spki';

export const DEFAULT_DAYS = 365;
/** A hundred years; past that a typo is likelier than intent. */
export const MAX_DAYS = 36500;
/** notBefore is set this far in the past so a verifier whose clock lags a little accepts the certificate at once. */
const BACKDATE_MS = 60_000;

export interface SelfSignedOptions {
  publicKey: PublicKey;
  /** Subject and issuer, "CN=alice,O=Example" (RFC 4514) or "/O=Example/CN=alice". */
  subject: string;
  /** Days of validity from now, 1..MAX_DAYS. Default DEFAULT_DAYS. */
  days?: number;
  /** Signs the DER TBSCertificate as `scheme` says and returns the raw signature (ECDSA: r||s). */
  sign: (tbsDer: Buffer, scheme: SignatureScheme) => Promise<Buffer>;
  /** The clock; default the current time. */
  now?: Date;
  /** Source of the serial number's randomness; default node:crypto. */
  randomBytes?: (n: number) => Buffer;
}

export interface SelfSignedCertificate {
  der: Buffer;
  pem: string;
  /** DER Name, as CKA_SUBJECT and CKA_ISSUER want it. */
  subjectDer: Buffer;
  /** DER INTEGER, as CKA_SERIAL_NUMBER wants it. */
  serialNumberDer: Buffer;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

export function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CertificateInputError('days', `--days must be a whole number from 1 to ${MAX_DAYS}, not ${days}`);
  }
  return days;
}

export async function buildSelfSignedCertificate(opts: SelfSignedOptions): Promise<SelfSignedCertificate> {
  const days = checkDays(opts.days ?? DEFAULT_DAYS);
  const name = parseDistinguishedName(opts.subject);
  const scheme = signatureSchemeFor(opts.publicKey);
  const spki = subjectPublicKeyInfo(opts.publicKey);
  const serial = randomSerial(opts.randomBytes ?? cryptoRandomBytes);
  const now = (opts.now ?? new Date()).getTime();
  const notBefore = new Date(now - BACKDATE_MS);
  const notAfter = new Date(now + days * 86_400_000);

  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: signatureAlgorithmIdentifier(scheme),
    issuer: name,
    validity: new Validity({ notBefore, notAfter }),
    subject: name,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      // RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
      extension(
        id_ce_subjectKeyIdentifier,
        false,
        new SubjectKeyIdentifier(createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest()),
      ),
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));

  const raw = await opts.sign(tbsDer, scheme);
  let signatureValue: Buffer;
  try {
    signatureValue = signatureValueFromSigner(scheme, raw);
  } catch (err) {
    throw new CertificateInputError('signature', `the signer returned an unusable signature: ${(err as Error).message}`);
  }
  checkSignature(opts.publicKey, scheme, tbsDer, signatureValue, spki);

  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: signatureAlgorithmIdentifier(scheme),
    signatureValue: toArrayBuffer(signatureValue),
  });
  const der = Buffer.from(AsnConvert.serialize(cert));
  return {
    der,
    pem: toPem(der),
    subjectDer: Buffer.from(AsnConvert.serialize(name)),
    serialNumberDer: derUnsignedInteger(serial),
    serialHex: serial.toString('hex'),
    notBefore: new Date(Math.floor(notBefore.getTime() / 1000) * 1000),
    notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000),
  };
}

/**
 * RFC 5280 §4.1.2.2: positive, at most 20 octets. 16 random bytes with the top bit cleared (positive)
 * and the next bit set (so the DER INTEGER is exactly 16 bytes, no leading zero to strip): 126 random bits.
 */
function randomSerial(randomBytes: (n: number) => Buffer): Buffer {
  const serial = Buffer.from(randomBytes(16));
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial;
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/**
 * A signature that does not verify means the private key is not the one the public key was taken
 * from (a mispaired CKA_ID) or the token misbehaved; writing such a certificate would only move the
 * failure to the first ssh login, so it is refused here.
 */
function checkSignature(
  pk: PublicKey,
  scheme: SignatureScheme,
  tbsDer: Buffer,
  signatureValue: Buffer,
  spki: ReturnType<typeof subjectPublicKeyInfo>,
): void {
  const key = createPublicKey({ key: Buffer.from(AsnConvert.serialize(spki)), format: 'der', type: 'spki' });
  const ok = verify(scheme.hash, tbsDer, key, signatureValue);
  if (!ok) {
    throw new CertificateInputError(
      'signature',
      `the ${pk.kind === 'ecdsa' ? 'ECDSA' : pk.kind === 'rsa' ? 'RSA' : 'Ed25519'} signature does not verify with the public key: the private key and the public key it was paired with do not belong together`,
    );
  }
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}
