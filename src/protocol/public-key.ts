// The one neutral shape of a public key that every layer passes around. The token layer
// builds it from PKCS#11 attributes or a certificate; the protocol layer turns it into
// SSH key blobs, authorized_keys lines and fingerprints. Buffers are unsigned big-endian
// integers without leading zero bytes, as PKCS#11 stores CKA_MODULUS.
export type EcCurve = 'nistp256' | 'nistp384' | 'nistp521';

export type PublicKey =
  | { kind: 'rsa'; n: Buffer; e: Buffer }
  | { kind: 'ecdsa'; curve: EcCurve; point: Buffer } // uncompressed SEC1 point: 04 || X || Y
  | { kind: 'ed25519'; key: Buffer }; // 32 bytes

/** SSH key type name of a key, e.g. `ecdsa-sha2-nistp256`. */
export function sshKeyType(pk: PublicKey): string {
  switch (pk.kind) {
    case 'rsa':
      return 'ssh-rsa';
    case 'ecdsa':
      return `ecdsa-sha2-${pk.curve}`;
    case 'ed25519':
      return 'ssh-ed25519';
  }
}

/** Bits of an RSA modulus or the curve size, for listings. */
export function keyBits(pk: PublicKey): number {
  switch (pk.kind) {
    case 'rsa': {
      let i = 0;
      while (i < pk.n.length && pk.n[i] === 0) i++;
      if (i === pk.n.length) return 0;
      return (pk.n.length - i - 1) * 8 + (32 - Math.clz32(pk.n[i]));
    }
    case 'ecdsa':
      return pk.curve === 'nistp256' ? 256 : pk.curve === 'nistp384' ? 384 : 521;
    case 'ed25519':
      return 256;
  }
}
