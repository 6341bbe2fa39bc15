// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) from the neutral PublicKey shape.
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import type { PublicKey } from '../protocol/public-key';
import { derNull, derObjectIdentifier, derSequence, derUnsignedInteger } from './der';
import { CURVE_OID, id_ecPublicKey, id_Ed25519, rsaEncryption } from './oids';

const EC_POINT_LENGTH = { nistp256: 65, nistp384: 97, nistp521: 133 } as const;

export function subjectPublicKeyInfo(pk: PublicKey): SubjectPublicKeyInfo {
  switch (pk.kind) {
    case 'rsa':
      // RFC 3279 §2.3.1: parameters MUST be NULL; the bit string holds RSAPublicKey ::= SEQUENCE { n, e }.
      return new SubjectPublicKeyInfo({
        algorithm: new AlgorithmIdentifier({ algorithm: rsaEncryption, parameters: toArrayBuffer(derNull()) }),
        subjectPublicKey: toArrayBuffer(derSequence(derUnsignedInteger(pk.n), derUnsignedInteger(pk.e))),
      });
    case 'ecdsa':
      // RFC 5480 §2.1.1: namedCurve parameters; the bit string is the uncompressed SEC1 point.
      if (pk.point.length !== EC_POINT_LENGTH[pk.curve] || pk.point[0] !== 0x04) {
        throw new Error(`EC point of ${pk.point.length} bytes is not an uncompressed ${pk.curve} point`);
      }
      return new SubjectPublicKeyInfo({
        algorithm: new AlgorithmIdentifier({
          algorithm: id_ecPublicKey,
          parameters: toArrayBuffer(derObjectIdentifier(CURVE_OID[pk.curve])),
        }),
        subjectPublicKey: toArrayBuffer(pk.point),
      });
    case 'ed25519':
      // RFC 8410 §3: parameters absent.
      if (pk.key.length !== 32) throw new Error(`Ed25519 public key of ${pk.key.length} bytes (expected 32)`);
      return new SubjectPublicKeyInfo({
        algorithm: new AlgorithmIdentifier({ algorithm: id_Ed25519 }),
        subjectPublicKey: toArrayBuffer(pk.key),
      });
  }
}

export function subjectPublicKeyInfoDer(pk: PublicKey): Buffer {
  return Buffer.from(AsnConvert.serialize(subjectPublicKeyInfo(pk)));
}

export function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
