// PKCS#11 constants this layer uses by name, and decoders for attribute values.
// pkcs11js knows PKCS#11 2.40 only; the 3.0 additions are spelled out here.
import { pkcs11String } from './strings';

export {
  CKO_CERTIFICATE,
  CKO_PUBLIC_KEY,
  CKO_PRIVATE_KEY,
  CKA_CLASS,
  CKA_ID,
  CKA_LABEL,
  CKA_KEY_TYPE,
  CKA_MODULUS,
  CKA_PUBLIC_EXPONENT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_SIGN,
  CKA_ALWAYS_AUTHENTICATE,
  CKA_VALUE,
  CKA_CERTIFICATE_TYPE,
  CKA_PRIVATE,
  CKA_TOKEN,
  CKC_X_509,
  CKK_RSA,
  CKK_EC,
} from 'pkcs11js';

/** PKCS#11 3.0 key type of Ed25519/Ed448 keys. */
export const CKK_EC_EDWARDS = 0x40;
/** PKCS#11 3.0 EdDSA signature mechanism. */
export const CKM_EDDSA = 0x1057;

/** CK_ULONG attribute (native-endian, 4 or 8 bytes as the platform has it). */
export function attrUlong(v: Buffer | undefined): number | undefined {
  if (!v) return undefined;
  if (v.length === 8) return Number(v.readBigUInt64LE(0));
  if (v.length === 4) return v.readUInt32LE(0);
  if (v.length === 1) return v[0];
  return undefined;
}

/** CK_BBOOL attribute; undefined when the object does not have it. */
export function attrBool(v: Buffer | undefined): boolean | undefined {
  if (!v || v.length === 0) return undefined;
  return v[0] !== 0;
}

/** CKA_LABEL: UTF-8, some tokens pad with blanks or NULs. */
export function attrString(v: Buffer | undefined): string {
  if (!v) return '';
  return pkcs11String(v.toString('utf8'));
}
