// SSH signatures made on a token: the mechanism a key type needs, and the SSH blob around
// the raw result (RFC 8332 for RSA, RFC 5656 for ECDSA, RFC 8709 for Ed25519).
import { createHash } from 'node:crypto';
import type { Mechanism } from 'pkcs11js';
import type { PublicKey } from '../protocol/public-key';
import { encodeSshSignature, signatureAlgorithm, type SignatureHash } from '../protocol/signature';
import { call } from './errors';
import { aloneInFlight } from './session-pool';
import type { Session, SignOptions } from './session';
import type { Token } from './token';

// CKM_* numbers (PKCS#11 2.40 section 2 and 3.0 for EdDSA).
export const CKM_RSA_PKCS = 0x0001;
export const CKM_SHA1_RSA_PKCS = 0x0006;
export const CKM_SHA256_RSA_PKCS = 0x0040;
export const CKM_SHA384_RSA_PKCS = 0x0041;
export const CKM_SHA512_RSA_PKCS = 0x0042;
export const CKM_ECDSA = 0x1041;
export const CKM_EDDSA = 0x1057;
const CKF_SIGN = 0x800;

/** What signing needs to know about a key; discover.ts's KeyPair has all of it. */
export interface SigningKey {
  /** CKO_PRIVATE_KEY handle */
  privateKey?: Buffer;
  publicKey?: PublicKey;
  label?: string;
}

/** Refused before reaching the token: the key cannot make this signature. */
export class SignUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignUnsupportedError';
  }
}

const RSA_HASH_MECHANISM: Record<SignatureHash, number> = {
  sha1: CKM_SHA1_RSA_PKCS,
  sha256: CKM_SHA256_RSA_PKCS,
  sha384: CKM_SHA384_RSA_PKCS,
  sha512: CKM_SHA512_RSA_PKCS,
};

// DER prefix of DigestInfo ::= SEQUENCE { AlgorithmIdentifier (with NULL params), OCTET STRING }
// up to the digest itself (RFC 8017 section 9.2, note 1), for tokens that only offer CKM_RSA_PKCS.
const DIGEST_INFO_PREFIX: Record<SignatureHash, Buffer> = {
  sha1: Buffer.from('3021300906052b0e03021a05000414', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** The mechanism and the bytes handed to C_Sign for one SSH signature. */
export interface SignPlan {
  algorithm: string;
  mechanism: Mechanism;
  input: Buffer;
}

/** Chooses the mechanism for `pk` and the request flags, and prepares its input. */
export function planSignature(token: Token, pk: PublicKey, data: Buffer, flags: number): SignPlan {
  const { algorithm, hash } = signatureAlgorithm(pk, flags);
  switch (pk.kind) {
    case 'rsa': {
      const h = hash as SignatureHash;
      const hashed = RSA_HASH_MECHANISM[h];
      if (canSignWith(token, hashed)) return { algorithm, mechanism: { mechanism: hashed }, input: data };
      if (!canSignWith(token, CKM_RSA_PKCS)) {
        throw new SignUnsupportedError(`token ${token.label} offers neither ${mechName(hashed)} nor CKM_RSA_PKCS for signing`);
      }
      const digest = createHash(h).update(data).digest();
      return { algorithm, mechanism: { mechanism: CKM_RSA_PKCS }, input: Buffer.concat([DIGEST_INFO_PREFIX[h], digest]) };
    }
    case 'ecdsa':
      // CKM_ECDSA signs a hash computed here: fewer bytes to the token, and every token has it
      // (the CKM_ECDSA_SHA* family is rare outside software tokens).
      return { algorithm, mechanism: { mechanism: CKM_ECDSA }, input: createHash(hash as SignatureHash).update(data).digest() };
    case 'ed25519':
      // Pure Ed25519 (RFC 8032): the message itself, no parameters.
      return { algorithm, mechanism: { mechanism: CKM_EDDSA }, input: data };
  }
}

// Large enough for an RSA-8192 signature; pkcs11js returns the used part.
const SIGNATURE_BUFFER = 1024;

/**
 * A signature that took less than this last time may be made synchronously on the event
 * loop (see signForSsh). Software tokens and fast HSMs sign in well under a millisecond;
 * a smart card takes 50 ms and more, and stays on a worker thread so the loop keeps serving.
 */
const SYNC_SIGN_BELOW_NS = 3_000_000n;
/** Last signing time per key (ns); a key not yet timed signs on a worker thread. */
const lastSignNs = new WeakMap<SigningKey, bigint>();

/**
 * One SSH signature blob over `data`, made on the token with `key`'s private key.
 * `flags` are SSH_AGENTC_SIGN_REQUEST's (rsa-sha2-256 / rsa-sha2-512 for RSA keys).
 * C_Sign normally runs on a worker thread, so the event loop keeps serving while the token
 * works. When nothing else is in flight and the key signed fast last time, it runs right
 * here instead: no other request is waiting to be served, and the thread hand-off (two
 * wake-ups) would cost more than a software token's whole signature.
 */
export async function signForSsh(
  session: Session,
  key: SigningKey,
  data: Buffer,
  flags: number,
  options: SignOptions = {},
): Promise<Buffer> {
  const name = key.label ? `key '${key.label}'` : 'key';
  if (!key.privateKey) throw new SignUnsupportedError(`${name} has no private key on the token`);
  if (!key.publicKey) throw new SignUnsupportedError(`${name} has no known public key`);
  const plan = planSignature(session.token, key.publicKey, data, flags);
  const last = lastSignNs.get(key);
  const start = process.hrtime.bigint();
  let raw: Buffer;
  if (options.contextPin === undefined && last !== undefined && last < SYNC_SIGN_BELOW_NS && aloneInFlight()) {
    raw = await signNow(session, key.privateKey, plan);
  } else {
    raw = await session.signAsync(key.privateKey, plan.mechanism, plan.input, options);
  }
  lastSignNs.set(key, process.hrtime.bigint() - start);
  return encodeSshSignature(key.publicKey, plan.algorithm, raw);
}

/**
 * C_SignInit + C_Sign on the calling thread. Inside the session's queue, so no other
 * operation of this session is active; both calls return before anything else can run.
 */
function signNow(session: Session, privateKey: Buffer, plan: SignPlan): Promise<Buffer> {
  return session.exclusive(() => {
    if (session.isClosed) throw new Error('PKCS#11 session is closed');
    const lib = session.token.lib;
    call('C_SignInit', () => lib.C_SignInit(session.handle, plan.mechanism, privateKey));
    return call('C_Sign', () => lib.C_Sign(session.handle, plan.input, Buffer.allocUnsafe(SIGNATURE_BUFFER)));
  });
}

// Whether the token can sign with a mechanism, read once per token (C_GetMechanismList and
// C_GetMechanismInfo cost a round trip to a smart card each).
const signCapable = new WeakMap<Token, Map<number, boolean>>();

export function canSignWith(token: Token, mechanism: number): boolean {
  let known = signCapable.get(token);
  if (!known) {
    known = new Map();
    signCapable.set(token, known);
  }
  let ok = known.get(mechanism);
  if (ok === undefined) {
    ok = token.mechanisms().has(mechanism);
    if (ok) {
      const info = call('C_GetMechanismInfo', () => token.lib.C_GetMechanismInfo(token.slot.slotId, mechanism));
      ok = (info.flags & CKF_SIGN) !== 0;
    }
    known.set(mechanism, ok);
  }
  return ok;
}

function mechName(m: number): string {
  for (const [name, value] of Object.entries(RSA_HASH_MECHANISM)) if (value === m) return `CKM_${name.toUpperCase()}_RSA_PKCS`;
  return `CKM_0x${m.toString(16)}`;
}
