// node:crypto key pairs in the PublicKey shape, to stand in for a token when testing certificate building.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { PublicKey } from '../../src/protocol/public-key';
import type { SignatureScheme } from '../../src/x509';

export type KeySpec = 'rsa:2048' | 'rsa:3072' | 'ec:p256' | 'ec:p384' | 'ec:p521' | 'ed25519';

export interface TestKey {
  publicKey: PublicKey;
  privateKey: KeyObject;
  /** Signs as a PKCS#11 token would: ECDSA as raw r||s. */
  sign: (tbs: Buffer, scheme: SignatureScheme) => Promise<Buffer>;
}

const CURVES = { 'ec:p256': ['P-256', 'nistp256'], 'ec:p384': ['P-384', 'nistp384'], 'ec:p521': ['P-521', 'nistp521'] } as const;

export function makeKey(spec: KeySpec): TestKey {
  let pair: { publicKey: KeyObject; privateKey: KeyObject };
  let publicKey: PublicKey;
  if (spec.startsWith('rsa:')) {
    pair = generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    publicKey = { kind: 'rsa', n: Buffer.from(jwk.n!, 'base64url'), e: Buffer.from(jwk.e!, 'base64url') };
  } else if (spec === 'ed25519') {
    pair = generateKeyPairSync('ed25519');
    publicKey = { kind: 'ed25519', key: Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url') };
  } else {
    const [namedCurve, curve] = CURVES[spec as keyof typeof CURVES];
    pair = generateKeyPairSync('ec', { namedCurve });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    publicKey = { kind: 'ecdsa', curve, point };
  }
  const privateKey = pair.privateKey;
  return {
    publicKey,
    privateKey,
    sign: async (tbs, scheme) => sign(scheme.hash, tbs, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}
