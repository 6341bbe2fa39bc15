// Public keys from PKCS#11 attributes and from X.509 certificates, in the shared PublicKey
// shape. Tokens disagree on encodings, so this accepts each variant seen in the field.
import { createPublicKey, ECDH, X509Certificate, type JsonWebKey } from 'node:crypto';
import { publicKeyFromJwk as jwkToPublicKey, publicKeyToJwk } from '../protocol/jwk';
import type { EcCurve, PublicKey } from '../protocol/public-key';

export { publicKeyToJwk };

/** The curve named by CKA_EC_PARAMS. */
export type CurveName = EcCurve | 'ed25519';

const CURVE_OIDS: Record<string, CurveName> = {
  '1.2.840.10045.3.1.7': 'nistp256', // prime256v1 / secp256r1
  '1.3.132.0.34': 'nistp384', // secp384r1
  '1.3.132.0.35': 'nistp521', // secp521r1
  '1.3.101.112': 'ed25519', // id-Ed25519 (RFC 8410)
};

// Uncompressed SEC1 point lengths: 04 || X || Y.
const POINT_LENGTH: Record<EcCurve, number> = { nistp256: 65, nistp384: 97, nistp521: 133 };
const NODE_CURVE: Record<EcCurve, string> = { nistp256: 'prime256v1', nistp384: 'secp384r1', nistp521: 'secp521r1' };

/**
 * Decodes CKA_EC_PARAMS: a DER OBJECT IDENTIFIER of a named curve, or, as pkcs11-tool and
 * PKCS#11 3.0 tokens write for Ed25519, a DER PrintableString "edwards25519".
 * Undefined for explicit curve parameters and curves SSH has no name for.
 */
export function curveFromEcParams(params: Buffer): CurveName | undefined {
  const tlv = readTlv(params, 0);
  if (!tlv || tlv.end !== params.length) return undefined;
  if (tlv.tag === 0x06) return CURVE_OIDS[decodeOid(tlv.value)];
  if (tlv.tag === 0x13 || tlv.tag === 0x0c) {
    const name = tlv.value.toString('latin1');
    if (name === 'edwards25519') return 'ed25519';
  }
  return undefined;
}

/**
 * Decodes CKA_EC_POINT. PKCS#11 says DER OCTET STRING around the point; some tokens store the
 * bare point. Both start with 0x04 for an uncompressed point, so the expected length decides.
 * Compressed points (02/03) are expanded, since SSH blobs carry uncompressed ones.
 */
export function pointFromEcPoint(curve: CurveName, ecPoint: Buffer): Buffer | undefined {
  const want = curve === 'ed25519' ? 32 : POINT_LENGTH[curve];
  const candidates: Buffer[] = [];
  if (ecPoint.length === want) candidates.push(ecPoint);
  const tlv = readTlv(ecPoint, 0);
  if (tlv && tlv.tag === 0x04 && tlv.end === ecPoint.length) candidates.push(tlv.value);
  candidates.push(ecPoint);
  for (const c of candidates) {
    if (curve === 'ed25519') {
      if (c.length === 32) return c;
      continue;
    }
    if (c.length === want && c[0] === 0x04) return c;
    const compressedLength = (want - 1) / 2 + 1;
    if (c.length === compressedLength && (c[0] === 0x02 || c[0] === 0x03)) {
      try {
        return ECDH.convertKey(c, NODE_CURVE[curve], undefined, undefined, 'uncompressed') as Buffer;
      } catch {
        // not on the curve: try the next reading
      }
    }
  }
  return undefined;
}

export function ecPublicKey(ecParams: Buffer, ecPoint: Buffer): PublicKey | undefined {
  const curve = curveFromEcParams(ecParams);
  if (!curve) return undefined;
  const point = pointFromEcPoint(curve, ecPoint);
  if (!point) return undefined;
  return curve === 'ed25519' ? { kind: 'ed25519', key: point } : { kind: 'ecdsa', curve, point };
}

export function rsaPublicKey(modulus: Buffer, exponent: Buffer): PublicKey | undefined {
  const n = stripZeros(modulus);
  const e = stripZeros(exponent);
  if (n.length === 0 || e.length === 0) return undefined;
  return { kind: 'rsa', n, e };
}

export interface CertificateKey {
  publicKey?: PublicKey;
  /** e.g. "CN=alice, O=Example", the comment of authorized_keys lines */
  subject: string;
  /** the subject as OpenSSL's X509_NAME_oneline writes it, "/CN=alice/O=Example": OpenSSH's comment for the key */
  subjectLine: string;
  /** why publicKey is missing */
  error?: string;
}

/** The public key in a DER certificate's SubjectPublicKeyInfo, and its subject. */
export function certificatePublicKey(der: Buffer): CertificateKey {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (err) {
    return { subject: '', subjectLine: '', error: `certificate does not parse: ${(err as Error).message}` };
  }
  const rdns = cert.subject.split('\n');
  const names = { subject: rdns.join(', '), subjectLine: rdns.map((r) => `/${r}`).join('') };
  try {
    const pk = publicKeyFromJwk(cert.publicKey.export({ format: 'jwk' }));
    return pk ? { publicKey: pk, ...names } : { ...names, error: 'certificate key type is not usable with SSH' };
  } catch (err) {
    return { ...names, error: `certificate key does not parse: ${(err as Error).message}` };
  }
}

/** The certificate's key in our shape, or undefined for a key type SSH cannot use. */
export function publicKeyFromJwk(jwk: JsonWebKey): PublicKey | undefined {
  try {
    return jwkToPublicKey(jwk);
  } catch {
    return undefined;
  }
}

/** SubjectPublicKeyInfo as PEM, for tools that want `-----BEGIN PUBLIC KEY-----`. */
export function publicKeyToPem(pk: PublicKey): string {
  return createPublicKey({ key: publicKeyToJwk(pk), format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
}

/** Same key? Compares the material, not the encoding. */
export function samePublicKey(a: PublicKey, b: PublicKey): boolean {
  if (a.kind === 'rsa' && b.kind === 'rsa') return a.n.equals(b.n) && a.e.equals(b.e);
  if (a.kind === 'ecdsa' && b.kind === 'ecdsa') return a.curve === b.curve && a.point.equals(b.point);
  if (a.kind === 'ed25519' && b.kind === 'ed25519') return a.key.equals(b.key);
  return false;
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

interface Tlv {
  tag: number;
  value: Buffer;
  end: number;
}

// Just enough DER for the two attributes above: single-byte tags, definite lengths.
function readTlv(buf: Buffer, at: number): Tlv | undefined {
  if (at + 2 > buf.length) return undefined;
  const tag = buf[at];
  let len = buf[at + 1];
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > buf.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > buf.length) return undefined;
  return { tag, value: buf.subarray(p, p + len), end: p + len };
}

function decodeOid(v: Buffer): string {
  if (v.length === 0) return '';
  const parts: number[] = [];
  let acc = 0;
  for (const byte of v) {
    acc = acc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}
