// The few DER encodings the certificate code needs outside the asn1-x509 schema classes
// (X.690 §8/§10): lengths, unsigned INTEGERs, SEQUENCEs and OBJECT IDENTIFIERs. Also used for
// PKCS#11 attributes that hold DER (CKA_SERIAL_NUMBER, CKA_EC_PARAMS).

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}

/** INTEGER from an unsigned big-endian magnitude: leading zeros dropped, one 00 added if the top bit is set. */
export function derUnsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let v = magnitude.subarray(i);
  if (v.length === 0) v = Buffer.from([0]);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return derTlv(0x02, v);
}

export function derSequence(...items: Buffer[]): Buffer {
  return derTlv(0x30, Buffer.concat(items));
}

export function derNull(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

export function derObjectIdentifier(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`not an object identifier: ${oid}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0] > 2n || (arcs[0] < 2n && arcs[1] > 39n)) throw new Error(`not an object identifier: ${oid}`);
  const body: number[] = [];
  const pushBase128 = (v: bigint) => {
    const chunk: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    body.push(...chunk);
  };
  pushBase128(arcs[0] * 40n + arcs[1]);
  for (const a of arcs.slice(2)) pushBase128(a);
  return derTlv(0x06, Buffer.from(body));
}
