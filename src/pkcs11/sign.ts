// SSH signatures made on a token: the mechanism a key type needs, and the SSH blob around
// the raw result (RFC 8332 for RSA, RFC 5656 for ECDSA, RFC 8709 for Ed25519).
import { createHash } from 'node:crypto';
import type { Mechanism } from 'pkcs11js';
import type { PublicKey } from '../protocol/public-key';
import { encodeSshSignature, signatureAlgorithm, SSH_AGENT_RSA_SHA2_256, type SignatureHash } from '../protocol/signature';
import { call, MechanismNotSupportedError } from './errors';
import type { Session, SignOptions } from './session';
import type { Token } from './token';
import type { Hinted } from '../hint';

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
export class SignUnsupportedError extends Error implements Hinted {
  readonly hint = 'pkcs11-tool --list-mechanisms shows what the token offers; choose another key type.';
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

/**
 * A signature that took less than this last time may be made synchronously on the event
 * loop (see signForSsh). Software tokens and fast HSMs sign in well under a millisecond;
 * a smart card takes 50 ms and more, and stays on a worker thread so the loop keeps serving.
 */
const SYNC_SIGN_BELOW_NS = 3_000_000n;
/** Last signing time per key (ns); a key not yet timed signs on a worker thread. */
const lastSignNs = new WeakMap<SigningKey, bigint>();

export interface SshSignOptions {
  /** see SignOptions.contextPin */
  contextPin?: Buffer | null;
  /** No other operation is under way on the module (SessionPool.use tells). Default false. */
  alone?: boolean;
}

/**
 * One SSH signature blob over `data`, made on the token with `key`'s private key.
 * `flags` are SSH_AGENTC_SIGN_REQUEST's (rsa-sha2-256 / rsa-sha2-512 for RSA keys).
 * C_Sign normally runs on a worker thread, so the event loop keeps serving while the token
 * works. When the caller is `alone` and the key signed fast last time, it runs right here
 * instead: no other request is waiting to be served, and the thread hand-off (two
 * wake-ups, tens of µs on a busy machine) would cost more than a software token's whole
 * signature.
 */
export async function signForSsh(
  session: Session,
  key: SigningKey,
  data: Buffer,
  flags: number,
  { contextPin, alone = false }: SshSignOptions = {},
): Promise<Buffer> {
  const name = key.label ? `key '${key.label}'` : 'key';
  if (!key.privateKey) throw new SignUnsupportedError(`${name} has no private key on the token`);
  if (!key.publicKey) throw new SignUnsupportedError(`${name} has no known public key`);
  const plan = planSignature(session.token, key.publicKey, data, flags);
  const last = lastSignNs.get(key);
  const sync = alone && last !== undefined && last < SYNC_SIGN_BELOW_NS;
  const start = process.hrtime.bigint();
  const raw = await session.sign(key.privateKey, plan.mechanism, plan.input, { contextPin, sync });
  lastSignNs.set(key, process.hrtime.bigint() - start);
  return encodeSshSignature(key.publicKey, plan.algorithm, raw);
}

/**
 * A raw signature over `data` by the private key `key` whose public key is `pk` (ECDSA: r||s as
 * PKCS#11 returns it), for the certificate `selfsign` writes and the key proofs of `fix-ids`.
 * X.509 wants the same hashes as SSH with rsa-sha2-256 (RFC 8332) and RFC 5656's curve hashes,
 * so planSignature's mechanism choice serves both.
 */
export function signRaw(session: Session, key: Buffer, pk: PublicKey, data: Buffer, options: SignOptions = {}): Promise<Buffer> {
  const plan = planSignature(session.token, pk, data, SSH_AGENT_RSA_SHA2_256);
  const needed = plan.mechanism.mechanism;
  if (needed === CKM_ECDSA && !canSignWith(session.token, CKM_ECDSA)) {
    throw new MechanismNotSupportedError('CKM_ECDSA', 'ECDSA signing');
  }
  if (needed === CKM_EDDSA && !canSignWith(session.token, CKM_EDDSA)) {
    throw new MechanismNotSupportedError('CKM_EDDSA', 'Ed25519 signing');
  }
  return session.sign(key, plan.mechanism, plan.input, options);
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
