// `tt-agent selfsign`: a self-signed certificate for a key on the token, signed by the token and
// stored next to the key under its CKA_ID.
import { findKeyPairs, type KeyPair } from '../pkcs11/discover';
import { createCertificateObject, destroyObject, findCertificatesById } from '../pkcs11/objects';
import type { Session } from '../pkcs11/session';
import { signRaw } from '../pkcs11/sign';
import { buildSelfSignedCertificate, checkDays, DEFAULT_DAYS, parseDistinguishedName, type SelfSignedCertificate } from '../x509';
import { CertificateNotStoredError, ToolError } from './tool-errors';
import { formatId } from './key-spec';
import { selectPrivateKey, type KeySelector } from './select-key';

export interface SelfSignOptions extends KeySelector {
  /** default "CN=<key label>" */
  subject?: string;
  days?: number;
  /** replace certificates already stored for the key */
  force?: boolean;
  /** the PIN again, for keys with CKA_ALWAYS_AUTHENTICATE (null: PIN pad) */
  contextPin?: Buffer | null;
}

export interface SelfSignResult {
  certificate: SelfSignedCertificate;
  key: KeyPair;
  subject: string;
  /** certificate objects removed because --force replaced them */
  replaced: number;
  /** replaced certificates that could not be removed (the new one is written) */
  leftOver: string[];
}

export function defaultSubject(pair: KeyPair): string {
  const label = pair.objects.privateKey?.label || pair.label;
  // RFC 4514 escapes, so any label makes a valid CN.
  if (label) return `CN=${label.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`).replace(/^ | $/g, '\\ ')}`;
  return `CN=tt-agent key ${formatId(pair.id)}`;
}

/** Needs a logged-in R/W session. Nothing is written unless the certificate was signed and verified. */
export async function selfSign(session: Session, opts: SelfSignOptions): Promise<SelfSignResult> {
  // Cheap input checks first, so a typo costs no PIN prompt on an always-authenticate key.
  const days = checkDays(opts.days ?? DEFAULT_DAYS);
  if (opts.subject !== undefined) parseDistinguishedName(opts.subject);

  const key = selectPrivateKey(findKeyPairs(session, { privateVisible: true }), opts);
  const id = key.objects.privateKey!.id;
  if (key.issues.some((i) => i.code === 'cannot-sign')) {
    throw new ToolError('key-cannot-sign', `the private key with ID ${formatId(id)} may not sign (CKA_SIGN is false)`);
  }
  if (!key.publicKey) {
    throw new ToolError(
      'public-key-unknown',
      `the public key of the private key with ID ${formatId(id)} cannot be derived: the token has no public-key object or certificate for it and the private key does not reveal its public part`,
    );
  }
  const existing = findCertificatesById(session, id);
  if (key.certificate && !existing.some((h) => h.equals(key.certificate!))) existing.push(key.certificate);
  if (existing.length > 0 && !opts.force) {
    throw new ToolError(
      'certificate-exists',
      `the token already holds ${existing.length === 1 ? 'a certificate' : `${existing.length} certificates`} for the key with ID ${formatId(id)}`,
    );
  }

  const subject = opts.subject ?? defaultSubject(key);
  const publicKey = key.publicKey;
  const contextPin = key.alwaysAuthenticate ? opts.contextPin : undefined;
  const certificate = await buildSelfSignedCertificate({
    publicKey,
    subject,
    days,
    sign: (tbs) => signRaw(session, key.privateKey, publicKey, tbs, { contextPin }),
  });

  // New first, old after: a failure in between leaves two certificates, never none.
  try {
    createCertificateObject(session, {
      id,
      label: key.objects.privateKey!.label || key.label,
      subject: certificate.subjectDer,
      issuer: certificate.subjectDer,
      serialNumber: certificate.serialNumberDer,
      value: certificate.der,
    });
  } catch (err) {
    // The certificate itself is good; the caller may still hand it to the user (--out).
    throw new CertificateNotStoredError(certificate.pem, id, { cause: err });
  }
  let replaced = 0;
  const leftOver: string[] = [];
  for (const old of existing) {
    try {
      destroyObject(session, old);
      replaced++;
    } catch (err) {
      leftOver.push((err as Error).message);
    }
  }
  return { certificate, key, subject, replaced, leftOver };
}
