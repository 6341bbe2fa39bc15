// Writing to the token for the token tools: certificate objects, CKA_ID changes, removal, the
// flat inventory `fix-ids` works from.
import {
  CKA_CERTIFICATE_TYPE,
  CKA_CLASS,
  CKA_ID,
  CKA_ISSUER,
  CKA_LABEL,
  CKA_PRIVATE,
  CKA_SERIAL_NUMBER,
  CKA_SUBJECT,
  CKA_TOKEN,
  CKA_VALUE,
  CKC_X_509,
  CKO_CERTIFICATE,
} from 'pkcs11js';
import type { PublicKey } from '../protocol/public-key';
import { call } from './errors';
import type { CurveName } from './key-material';
import { readAllObjects, type ReadObject } from './key-reader';
import type { Session } from './session';

export interface CertificateObject {
  id: Buffer;
  label: string;
  /** DER Name; CKA_SUBJECT and CKA_ISSUER (the same for a self-signed certificate) */
  subject: Buffer;
  issuer: Buffer;
  /** DER INTEGER */
  serialNumber: Buffer;
  /** the DER certificate */
  value: Buffer;
}

/** C_CreateObject of a public X.509 certificate object on the token (PKCS#11 2.40 §4.6.3). */
export function createCertificateObject(session: Session, cert: CertificateObject): Buffer {
  return call('C_CreateObject', () =>
    session.token.lib.C_CreateObject(session.handle, [
      { type: CKA_CLASS, value: CKO_CERTIFICATE },
      { type: CKA_CERTIFICATE_TYPE, value: CKC_X_509 },
      { type: CKA_TOKEN, value: true },
      { type: CKA_PRIVATE, value: false },
      { type: CKA_ID, value: cert.id },
      { type: CKA_LABEL, value: cert.label },
      { type: CKA_SUBJECT, value: cert.subject },
      { type: CKA_ISSUER, value: cert.issuer },
      { type: CKA_SERIAL_NUMBER, value: cert.serialNumber },
      { type: CKA_VALUE, value: cert.value },
    ]),
  );
}

/** X.509 certificate objects carrying exactly this CKA_ID. */
export function findCertificatesById(session: Session, id: Buffer): Buffer[] {
  return session.findObjects([
    { type: CKA_CLASS, value: CKO_CERTIFICATE },
    { type: CKA_CERTIFICATE_TYPE, value: CKC_X_509 },
    { type: CKA_ID, value: id },
  ]);
}

/** C_SetAttributeValue(CKA_ID), as `pkcs11-tool --set-id` does. */
export function setObjectId(session: Session, object: Buffer, id: Buffer): void {
  call('C_SetAttributeValue', () => session.token.lib.C_SetAttributeValue(session.handle, object, [{ type: CKA_ID, value: id }]));
}

export function destroyObject(session: Session, object: Buffer): void {
  call('C_DestroyObject', () => session.token.lib.C_DestroyObject(session.handle, object));
}

/** For undoing a half-done step: the original error matters more than a failure to clean up. */
export function destroyObjectQuietly(session: Session, object: Buffer): void {
  try {
    destroyObject(session, object);
  } catch {
    // The caller is already reporting why it undoes; the object may also be gone with the token.
  }
}

export type ObjectKind = 'private-key' | 'public-key' | 'certificate';

/** One key or certificate object, with the public key it holds or reveals. */
export interface TokenObject {
  kind: ObjectKind;
  handle: Buffer;
  id: Buffer;
  label: string;
  /** 'rsa' | 'nistp256' ... | 'ed25519'; undefined when unknown */
  algorithm?: 'rsa' | CurveName;
  /** RSA n/e or EC point from the object's attributes, or a certificate's key */
  publicKey?: PublicKey;
  /** private keys: CKA_SIGN */
  canSign?: boolean;
  /** private keys: CKA_ALWAYS_AUTHENTICATE (each signature needs the PIN again) */
  alwaysAuthenticate?: boolean;
  /** certificates: why no public key could be read */
  error?: string;
}

/**
 * Every private key, public key and X.509 certificate object, each on its own: what the
 * object itself says, no pairing. Private keys are listed only on a logged-in session.
 */
export function listTokenObjects(session: Session): TokenObject[] {
  const all = readAllObjects(session);
  const entry = (kind: ObjectKind, o: ReadObject): TokenObject => ({
    kind,
    handle: o.ref.handle,
    id: o.ref.id,
    label: o.ref.label,
    algorithm: o.algorithm,
    publicKey: o.publicKey,
    canSign: kind === 'private-key' ? o.sign !== false : undefined,
    alwaysAuthenticate: kind === 'private-key' ? o.alwaysAuthenticate === true : undefined,
    error: o.error,
  });
  return [
    ...all.privateKeys.map((o) => entry('private-key', o)),
    ...all.publicKeys.map((o) => entry('public-key', o)),
    ...all.certificates.map((o) => entry('certificate', o)),
  ];
}
