// Reading one key or certificate object: the attributes every caller needs, decoded once.
// discover.ts pairs these objects into keys; objects.ts lists them one by one for fix-ids.
import type { PublicKey } from '../protocol/public-key';
import {
  CKA_ALWAYS_AUTHENTICATE,
  CKA_CERTIFICATE_TYPE,
  CKA_CLASS,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_ID,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_MODULUS,
  CKA_PUBLIC_EXPONENT,
  CKA_SIGN,
  CKA_VALUE,
  CKC_X_509,
  CKK_EC,
  CKK_EC_EDWARDS,
  CKK_RSA,
  CKO_CERTIFICATE,
  CKO_PRIVATE_KEY,
  CKO_PUBLIC_KEY,
  attrBool,
  attrString,
  attrUlong,
} from './attributes';
import { certificatePublicKey, curveFromEcParams, ecPublicKey, rsaPublicKey, type CurveName } from './key-material';
import type { Session } from './session';

export type KeyType = 'rsa' | 'ec' | 'ed25519' | 'unknown';

export interface ObjectRef {
  handle: Buffer;
  id: Buffer;
  label: string;
}

/** A private key, public key or certificate object, as the object itself describes it. */
export interface ReadObject {
  ref: ObjectRef;
  keyType: KeyType;
  /** 'rsa', the curve, or undefined when unknown */
  algorithm?: 'rsa' | CurveName;
  /** RSA n/e or EC point from the object's attributes, or a certificate's key */
  publicKey?: PublicKey;
  /** private keys: CKA_SIGN (undefined when the token does not say) */
  sign?: boolean;
  /** private keys: CKA_ALWAYS_AUTHENTICATE */
  alwaysAuthenticate?: boolean;
  /** certificates: the subject, "CN=alice, O=Example" */
  subject?: string;
  /** certificates: the subject as OpenSSL's X509_NAME_oneline writes it, "/CN=alice/O=Example" */
  subjectLine?: string;
  /** certificates: why no public key could be read */
  error?: string;
}

/**
 * A key object's attributes. A private key often reveals its RSA modulus and exponent (not
 * secret), which pairs it by material; an EC private key has CKA_EC_PARAMS, rarely the point.
 */
export function readKeyObject(session: Session, handle: Buffer, isPrivate: boolean): ReadObject {
  const types = [CKA_ID, CKA_LABEL, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_EC_POINT];
  if (isPrivate) types.push(CKA_SIGN, CKA_ALWAYS_AUTHENTICATE);
  const a = session.getAttributes(handle, types);
  const ckk = attrUlong(a.get(CKA_KEY_TYPE));
  const out: ReadObject = { ref: objectRef(handle, a), keyType: 'unknown' };
  if (ckk === CKK_RSA) {
    out.keyType = 'rsa';
    out.algorithm = 'rsa';
    const n = a.get(CKA_MODULUS);
    const e = a.get(CKA_PUBLIC_EXPONENT);
    if (n && e) out.publicKey = rsaPublicKey(n, e);
  } else if (ckk === CKK_EC || ckk === CKK_EC_EDWARDS) {
    const params = a.get(CKA_EC_PARAMS);
    out.algorithm = params ? curveFromEcParams(params) : undefined;
    out.keyType = out.algorithm === 'ed25519' || ckk === CKK_EC_EDWARDS ? 'ed25519' : 'ec';
    const point = a.get(CKA_EC_POINT);
    if (params && point) out.publicKey = ecPublicKey(params, point);
  }
  if (isPrivate) {
    out.sign = attrBool(a.get(CKA_SIGN));
    out.alwaysAuthenticate = attrBool(a.get(CKA_ALWAYS_AUTHENTICATE));
  }
  return out;
}

/** An X.509 certificate object: its key and subject, or why they cannot be read. */
export function readCertificateObject(session: Session, handle: Buffer): ReadObject {
  const a = session.getAttributes(handle, [CKA_ID, CKA_LABEL, CKA_VALUE]);
  const der = a.get(CKA_VALUE);
  const ck = der ? certificatePublicKey(der) : { subject: '', subjectLine: '', error: 'certificate has no CKA_VALUE', publicKey: undefined };
  const pk = ck.publicKey;
  return {
    ref: objectRef(handle, a),
    keyType: !pk ? 'unknown' : pk.kind === 'ecdsa' ? 'ec' : pk.kind,
    algorithm: !pk ? undefined : pk.kind === 'rsa' ? 'rsa' : pk.kind === 'ecdsa' ? pk.curve : 'ed25519',
    publicKey: pk,
    subject: ck.subject,
    subjectLine: ck.subjectLine,
    error: ck.error,
  };
}

/** Every private key, public key and X.509 certificate object the session can see. */
export function readAllObjects(session: Session): { privateKeys: ReadObject[]; publicKeys: ReadObject[]; certificates: ReadObject[] } {
  return {
    privateKeys: session.findObjects([{ type: CKA_CLASS, value: CKO_PRIVATE_KEY }]).map((h) => readKeyObject(session, h, true)),
    publicKeys: session.findObjects([{ type: CKA_CLASS, value: CKO_PUBLIC_KEY }]).map((h) => readKeyObject(session, h, false)),
    certificates: session
      .findObjects([
        { type: CKA_CLASS, value: CKO_CERTIFICATE },
        { type: CKA_CERTIFICATE_TYPE, value: CKC_X_509 },
      ])
      .map((h) => readCertificateObject(session, h)),
  };
}

function objectRef(handle: Buffer, a: Map<number, Buffer>): ObjectRef {
  return { handle, id: a.get(CKA_ID) ?? Buffer.alloc(0), label: attrString(a.get(CKA_LABEL)) };
}
