// Object identifiers used by the certificates we write (RFC 3279, RFC 5480, RFC 5758, RFC 8410).
import type { EcCurve } from '../protocol/public-key';

export const rsaEncryption = '1.2.840.113549.1.1.1';
export const sha256WithRSAEncryption = '1.2.840.113549.1.1.11';
export const id_ecPublicKey = '1.2.840.10045.2.1';
export const ecdsa_with_SHA256 = '1.2.840.10045.4.3.2';
export const ecdsa_with_SHA384 = '1.2.840.10045.4.3.3';
export const ecdsa_with_SHA512 = '1.2.840.10045.4.3.4';
export const id_Ed25519 = '1.3.101.112';

export const CURVE_OID: Record<EcCurve, string> = {
  nistp256: '1.2.840.10045.3.1.7', // secp256r1 / prime256v1
  nistp384: '1.3.132.0.34', // secp384r1
  nistp521: '1.3.132.0.35', // secp521r1
};
