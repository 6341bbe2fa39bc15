// Key-pair generation on the token (C_GenerateKeyPair) for `tt-agent keygen`.
import {
  CKA_CLASS,
  CKA_DECRYPT,
  CKA_DERIVE,
  CKA_ENCRYPT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_EXTRACTABLE,
  CKA_ID,
  CKA_LABEL,
  CKA_MODULUS,
  CKA_MODULUS_BITS,
  CKA_PRIVATE,
  CKA_PUBLIC_EXPONENT,
  CKA_SENSITIVE,
  CKA_SIGN,
  CKA_TOKEN,
  CKA_UNWRAP,
  CKA_VERIFY,
  CKA_WRAP,
  CKM_EC_KEY_PAIR_GEN,
  CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKO_CERTIFICATE,
  CKO_PRIVATE_KEY,
  CKO_PUBLIC_KEY,
  type Template,
} from 'pkcs11js';
import type { PublicKey } from '../protocol/public-key';
import type { KeySpec } from '../tools/key-spec';
import { CURVE_OID, derObjectIdentifier, id_Ed25519 } from '../x509';
import { CKK_EC_EDWARDS } from './attributes';
import { MechanismNotSupportedError, toTokenError } from './errors';
import { ecPublicKey, rsaPublicKey } from './key-material';
import { destroyObjectQuietly } from './objects';
import type { Session } from './session';
import type { Token } from './token';

// PKCS#11 3.0 §2.3.5/§6.3: not in the pkcs11js constants (which follow 2.40).
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export { CKK_EC_EDWARDS };

const F4 = Buffer.from([0x01, 0x00, 0x01]); // 65537, the exponent every SSH implementation expects

export interface GenerateKeyPairOptions {
  spec: KeySpec;
  id: Buffer;
  label: string;
}

export interface GeneratedKeyPair {
  privateKey: Buffer;
  publicKeyObject: Buffer;
  publicKey: PublicKey;
  id: Buffer;
  label: string;
}

export function keyGenMechanism(spec: KeySpec): { mechanism: number; name: string } {
  if (spec.kind === 'rsa') return { mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN, name: 'CKM_RSA_PKCS_KEY_PAIR_GEN' };
  if (spec.kind === 'ecdsa') return { mechanism: CKM_EC_KEY_PAIR_GEN, name: 'CKM_EC_KEY_PAIR_GEN' };
  return { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN, name: 'CKM_EC_EDWARDS_KEY_PAIR_GEN' };
}

/** Which key families the token can generate at all (its key-pair generation mechanisms). */
export function keyGenSupport(token: Token): { rsa: boolean; ecdsa: boolean; ed25519: boolean } {
  const m = token.mechanisms();
  return {
    rsa: m.has(CKM_RSA_PKCS_KEY_PAIR_GEN),
    ecdsa: m.has(CKM_EC_KEY_PAIR_GEN),
    ed25519: m.has(CKM_EC_EDWARDS_KEY_PAIR_GEN),
  };
}

/**
 * Generates a key pair that stays on the token: the private key sensitive and never extractable,
 * able to sign and nothing else; the public-key object with the same CKA_ID and CKA_LABEL, which
 * is how OpenSSH and every other PKCS#11 consumer pair the two. Needs a logged-in R/W session.
 * If anything after generation fails, both objects are destroyed again.
 */
export async function generateKeyPair(session: Session, opts: GenerateKeyPairOptions): Promise<GeneratedKeyPair> {
  const { mechanism, name } = keyGenMechanism(opts.spec);
  if (!session.token.mechanisms().has(mechanism)) throw new MechanismNotSupportedError(name, 'key generation');

  const common: Template = [
    { type: CKA_TOKEN, value: true },
    { type: CKA_ID, value: opts.id },
    { type: CKA_LABEL, value: opts.label },
  ];
  const publicTemplate: Template = [
    ...common,
    { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
    { type: CKA_PRIVATE, value: false },
    { type: CKA_VERIFY, value: true },
    { type: CKA_ENCRYPT, value: false },
    { type: CKA_WRAP, value: false },
  ];
  const privateTemplate: Template = [
    ...common,
    { type: CKA_CLASS, value: CKO_PRIVATE_KEY },
    { type: CKA_PRIVATE, value: true },
    { type: CKA_SENSITIVE, value: true },
    { type: CKA_EXTRACTABLE, value: false },
    { type: CKA_SIGN, value: true },
    // An SSH key signs and does nothing else: a key that can also decrypt or unwrap is one
    // a misused module could be made to decrypt with.
    { type: CKA_DECRYPT, value: false },
    { type: CKA_UNWRAP, value: false },
  ];
  const spec = opts.spec;
  if (spec.kind === 'rsa') {
    publicTemplate.push({ type: CKA_MODULUS_BITS, value: spec.bits }, { type: CKA_PUBLIC_EXPONENT, value: F4 });
  } else {
    // Ed25519 by OID (RFC 8410), as SoftHSM and PKCS#11 3.0 accept; ECDSA by named curve (RFC 5480).
    const oid = spec.kind === 'ed25519' ? id_Ed25519 : CURVE_OID[spec.curve];
    publicTemplate.push({ type: CKA_EC_PARAMS, value: derObjectIdentifier(oid) });
    if (spec.kind === 'ecdsa') privateTemplate.push({ type: CKA_DERIVE, value: false });
  }

  const pair = await session.generateKeyPair({ mechanism }, publicTemplate, privateTemplate);
  try {
    const publicKey = readGeneratedPublicKey(session, pair.publicKey, spec);
    return { privateKey: pair.privateKey, publicKeyObject: pair.publicKey, publicKey, id: opts.id, label: opts.label };
  } catch (err) {
    destroyObjectQuietly(session, pair.publicKey);
    destroyObjectQuietly(session, pair.privateKey);
    throw err;
  }
}

function readGeneratedPublicKey(session: Session, handle: Buffer, spec: KeySpec): PublicKey {
  if (spec.kind === 'rsa') {
    const a = session.getAttributes(handle, [CKA_MODULUS, CKA_PUBLIC_EXPONENT]);
    const pk = rsaPublicKey(a.get(CKA_MODULUS) ?? Buffer.alloc(0), a.get(CKA_PUBLIC_EXPONENT) ?? Buffer.alloc(0));
    if (pk) return pk;
  } else {
    const a = session.getAttributes(handle, [CKA_EC_PARAMS, CKA_EC_POINT]);
    const params = a.get(CKA_EC_PARAMS);
    const point = a.get(CKA_EC_POINT);
    const pk = params && point ? ecPublicKey(params, point) : undefined;
    if (pk) return pk;
  }
  throw new Error('the token generated a key pair but its public-key object does not hold a readable public key');
}

/**
 * A CKA_ID no key or certificate on the token uses: the smallest free one-byte value from 01,
 * then two-byte values from 0100. Short IDs are what pkcs11-tool and PIV cards use, and are easy
 * to type in `--id` and `pkcs11:id=%01`. Private keys are only visible after login, so call this
 * on a logged-in session.
 */
export function freeKeyId(session: Session): Buffer {
  const used = new Set<string>();
  for (const cls of [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE]) {
    for (const h of session.findObjects([{ type: CKA_CLASS, value: cls }])) {
      const id = session.getAttributes(h, [CKA_ID]).get(CKA_ID);
      if (id) used.add(id.toString('hex'));
    }
  }
  for (let v = 1; v <= 0xffff; v++) {
    const id = v <= 0xff ? Buffer.from([v]) : Buffer.from([v >> 8, v & 0xff]);
    if (!used.has(id.toString('hex'))) return id;
  }
  throw new Error('no free one- or two-byte CKA_ID left on the token');
}
