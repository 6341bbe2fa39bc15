// Writing to the token for the token tools: certificate objects, CKA_ID changes, removal, the
// flat inventory `fix-ids` works from.
import {
  CKA_ALWAYS_AUTHENTICATE,
  CKA_CERTIFICATE_TYPE,
  CKA_CLASS,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_ID,
  CKA_ISSUER,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_MODULUS,
  CKA_PRIVATE,
  CKA_PUBLIC_EXPONENT,
  CKA_SERIAL_NUMBER,
  CKA_SIGN,
  CKA_SUBJECT,
  CKA_TOKEN,
  CKA_VALUE,
  CKC_X_509,
  CKK_EC,
  CKK_RSA,
  CKO_CERTIFICATE,
  CKO_PRIVATE_KEY,
  CKO_PUBLIC_KEY,
} from 'pkcs11js';
import type { PublicKey } from '../protocol/public-key';
import { attrBool, attrString, attrUlong, CKK_EC_EDWARDS } from './attributes';
import { call } from './errors';
import { certificatePublicKey, curveFromEcParams, ecPublicKey, rsaPublicKey, type CurveName } from './key-material';
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
  const out: TokenObject[] = [];
  for (const [cls, kind] of [
    [CKO_PRIVATE_KEY, 'private-key'],
    [CKO_PUBLIC_KEY, 'public-key'],
  ] as const) {
    for (const handle of session.findObjects([{ type: CKA_CLASS, value: cls }])) {
      // Private keys often reveal CKA_MODULUS/CKA_PUBLIC_EXPONENT; CKA_EC_POINT rarely.
      const a = session.getAttributes(handle, [
        CKA_ID, CKA_LABEL, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_EC_POINT, CKA_SIGN,
        CKA_ALWAYS_AUTHENTICATE,
      ]);
      const ckk = attrUlong(a.get(CKA_KEY_TYPE));
      let algorithm: TokenObject['algorithm'];
      let publicKey: PublicKey | undefined;
      if (ckk === CKK_RSA) {
        algorithm = 'rsa';
        const n = a.get(CKA_MODULUS);
        const e = a.get(CKA_PUBLIC_EXPONENT);
        if (n && e) publicKey = rsaPublicKey(n, e);
      } else if (ckk === CKK_EC || ckk === CKK_EC_EDWARDS) {
        const params = a.get(CKA_EC_PARAMS);
        algorithm = params ? curveFromEcParams(params) : undefined;
        const point = a.get(CKA_EC_POINT);
        if (params && point) publicKey = ecPublicKey(params, point);
      }
      out.push({
        kind,
        handle,
        id: a.get(CKA_ID) ?? Buffer.alloc(0),
        label: attrString(a.get(CKA_LABEL)),
        algorithm,
        publicKey,
        canSign: kind === 'private-key' ? attrBool(a.get(CKA_SIGN)) !== false : undefined,
        alwaysAuthenticate: kind === 'private-key' ? attrBool(a.get(CKA_ALWAYS_AUTHENTICATE)) === true : undefined,
      });
    }
  }
  for (const handle of session.findObjects([
    { type: CKA_CLASS, value: CKO_CERTIFICATE },
    { type: CKA_CERTIFICATE_TYPE, value: CKC_X_509 },
  ])) {
    const a = session.getAttributes(handle, [CKA_ID, CKA_LABEL, CKA_VALUE]);
    const der = a.get(CKA_VALUE);
    const ck = der ? certificatePublicKey(der) : { error: 'no CKA_VALUE', publicKey: undefined };
    const pk = ck.publicKey;
    out.push({
      kind: 'certificate',
      handle,
      id: a.get(CKA_ID) ?? Buffer.alloc(0),
      label: attrString(a.get(CKA_LABEL)),
      algorithm: pk ? (pk.kind === 'rsa' ? 'rsa' : pk.kind === 'ecdsa' ? pk.curve : 'ed25519') : undefined,
      publicKey: pk,
      error: ck.error,
    });
  }
  return out;
}
