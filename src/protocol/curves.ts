import type { EcCurve } from './public-key';

// RFC 5656 section 6.2: each curve fixes its field size and the hash its ECDSA signatures use.
export interface CurveInfo {
  /** Bytes of one coordinate, of r, of s and of the private scalar (P-521 is 66, not 65). */
  fieldBytes: number;
  hash: 'sha256' | 'sha384' | 'sha512';
  /** JWK "crv" name, which node:crypto also accepts. */
  jwkCurve: 'P-256' | 'P-384' | 'P-521';
}

export const CURVES: Record<EcCurve, CurveInfo> = {
  nistp256: { fieldBytes: 32, hash: 'sha256', jwkCurve: 'P-256' },
  nistp384: { fieldBytes: 48, hash: 'sha384', jwkCurve: 'P-384' },
  nistp521: { fieldBytes: 66, hash: 'sha512', jwkCurve: 'P-521' },
};

export function isEcCurve(name: string): name is EcCurve {
  return name === 'nistp256' || name === 'nistp384' || name === 'nistp521';
}

export function curveFromJwk(crv: string | undefined): EcCurve | undefined {
  for (const [name, info] of Object.entries(CURVES) as [EcCurve, CurveInfo][]) {
    if (info.jwkCurve === crv) return name;
  }
  return undefined;
}
