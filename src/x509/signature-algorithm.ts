// Which signature a certificate for a key carries, and how the signer's raw output becomes the
// certificate's signatureValue. RFC 5280 leaves the choice to us; these are the ones every verifier knows.
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { PublicKey } from '../protocol/public-key';
import { ecdsaRawToDer as rawToDer } from '../protocol/ecdsa-der';
import { derNull } from './der';
import {
  ecdsa_with_SHA256,
  ecdsa_with_SHA384,
  ecdsa_with_SHA512,
  id_Ed25519,
  sha256WithRSAEncryption,
} from './oids';
import { toArrayBuffer } from './spki';

/**
 * What the signer is asked to produce over the DER TBSCertificate:
 *  - rsa-pkcs1: an RSASSA-PKCS1-v1_5 signature with `hash` (CKM_SHA256_RSA_PKCS);
 *  - ecdsa: raw r||s, each half the field size (CKM_ECDSA over the `hash` digest, as PKCS#11 returns it);
 *  - ed25519: the 64-byte PureEdDSA signature over the message itself (CKM_EDDSA).
 */
export type SignatureScheme =
  | { kind: 'rsa-pkcs1'; hash: 'sha256' }
  | { kind: 'ecdsa'; hash: 'sha256' | 'sha384' | 'sha512'; fieldBytes: number }
  | { kind: 'ed25519'; hash: null };

export function signatureSchemeFor(pk: PublicKey): SignatureScheme {
  switch (pk.kind) {
    case 'rsa':
      return { kind: 'rsa-pkcs1', hash: 'sha256' };
    case 'ecdsa':
      // The hash matches the curve size, as RFC 5656 §6.2.1 does for SSH.
      if (pk.curve === 'nistp256') return { kind: 'ecdsa', hash: 'sha256', fieldBytes: 32 };
      if (pk.curve === 'nistp384') return { kind: 'ecdsa', hash: 'sha384', fieldBytes: 48 };
      return { kind: 'ecdsa', hash: 'sha512', fieldBytes: 66 };
    case 'ed25519':
      return { kind: 'ed25519', hash: null };
  }
}

export function signatureAlgorithmIdentifier(scheme: SignatureScheme): AlgorithmIdentifier {
  switch (scheme.kind) {
    case 'rsa-pkcs1':
      // RFC 4055 §5: the NULL parameters are present for sha*WithRSAEncryption.
      return new AlgorithmIdentifier({ algorithm: sha256WithRSAEncryption, parameters: toArrayBuffer(derNull()) });
    case 'ecdsa': {
      // RFC 5758 §3.2: parameters absent.
      const oid = { sha256: ecdsa_with_SHA256, sha384: ecdsa_with_SHA384, sha512: ecdsa_with_SHA512 }[scheme.hash];
      return new AlgorithmIdentifier({ algorithm: oid });
    }
    case 'ed25519':
      return new AlgorithmIdentifier({ algorithm: id_Ed25519 });
  }
}

/** The signer's output as the certificate's signatureValue bytes (ECDSA: Ecdsa-Sig-Value, RFC 3279 §2.2.3). */
export function signatureValueFromSigner(scheme: SignatureScheme, raw: Buffer): Buffer {
  if (scheme.kind === 'ecdsa') return ecdsaRawToDer(raw, scheme.fieldBytes);
  if (scheme.kind === 'ed25519' && raw.length !== 64) {
    throw new Error(`Ed25519 signature of ${raw.length} bytes (expected 64)`);
  }
  return raw;
}

/** PKCS#11 CKM_ECDSA output r||s (fixed width) → DER SEQUENCE { r INTEGER, s INTEGER }. */
export function ecdsaRawToDer(raw: Buffer, fieldBytes: number): Buffer {
  if (raw.length !== 2 * fieldBytes) {
    throw new Error(`ECDSA signature of ${raw.length} bytes (expected ${2 * fieldBytes} for r||s)`);
  }
  return rawToDer(raw);
}
