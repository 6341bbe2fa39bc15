// DER ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 section 2.2.3) to and
// from the fixed-width r||s that PKCS#11 and SSH use, for tokens or libraries that hand out DER.
import type { EcCurve } from './public-key';
import { joinRaw } from './signature';
import { WireError } from './wire';

export function ecdsaDerToRaw(der: Buffer, curve: EcCurve): Buffer {
  const fail = (): never => {
    throw new WireError('malformed DER ECDSA signature');
  };
  let p = 0;
  const len = (): number => {
    if (p >= der.length) fail();
    const first = der[p++];
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2 || p + count > der.length) fail();
    let v = 0;
    for (let i = 0; i < count; i++) v = (v << 8) | der[p++];
    return v;
  };
  const integer = (): Buffer => {
    if (der[p++] !== 0x02) fail();
    const l = len();
    if (l === 0 || p + l > der.length) fail();
    const v = der.subarray(p, p + l);
    p += l;
    if (v[0] & 0x80) fail(); // negative
    return v;
  };
  if (der[p++] !== 0x30) fail();
  const seqLen = len();
  if (p + seqLen !== der.length) fail();
  const r = integer();
  const s = integer();
  if (p !== der.length) fail();
  return joinRaw(curve, r, s);
}

export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new WireError('r||s must have an even, non-zero length');
  const half = raw.length / 2;
  const int = (v: Buffer): Buffer => {
    let m = stripZeros(v);
    if (m.length === 0) m = Buffer.of(0);
    if (m[0] & 0x80) m = Buffer.concat([Buffer.of(0), m]);
    return Buffer.concat([Buffer.of(0x02), derLen(m.length), m]);
  };
  const body = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.of(0x30), derLen(body.length), body]);
}

function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  if (n < 0x100) return Buffer.of(0x81, n);
  return Buffer.of(0x82, n >> 8, n & 0xff);
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}
