// `tt-agent fix-ids` against a token: read every object, prove the public key of private keys
// that reveal none, plan (fix-ids-plan.ts), and apply with C_SetAttributeValue.
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { listTokenObjects, setObjectId, type TokenObject } from '../pkcs11/objects';
import { signRaw } from '../pkcs11/sign';
import { publicKeyToJwk, samePublicKey } from '../pkcs11/key-material';
import type { Session } from '../pkcs11/session';
import type { PublicKey } from '../protocol/public-key';
import { signatureSchemeFor } from '../x509';
import { planIdFixes, type FixPlan } from './fix-ids-plan';

export interface FixIdsInspection {
  objects: TokenObject[];
  plan: FixPlan;
  /** private keys whose public key was established by a test signature */
  proven: number;
}

/** Reads the token and decides; changes nothing. Needs a logged-in session (private keys visible). */
export async function inspectIds(session: Session, options: { contextPin?: Buffer | null } = {}): Promise<FixIdsInspection> {
  const objects = listTokenObjects(session);
  const proven = await proveHiddenPublicKeys(session, objects, options.contextPin);
  return { objects, plan: planIdFixes(objects, proven), proven: proven.size };
}

/** Applies the planned changes in order; stops at the first failure and says how far it got. */
export function applyIdFixes(session: Session, plan: FixPlan): { applied: number; error?: unknown } {
  let applied = 0;
  for (const c of plan.changes) {
    try {
      setObjectId(session, c.object.handle, c.to);
    } catch (error) {
      return { applied, error };
    }
    applied++;
  }
  return { applied };
}

/**
 * EC and Ed25519 private keys rarely reveal their public point. For each such key that may sign,
 * one signature over random bytes is checked against every candidate public key of the same
 * algorithm on the token; exactly one verifying candidate establishes the key's public key.
 */
async function proveHiddenPublicKeys(
  session: Session,
  objects: TokenObject[],
  contextPin: Buffer | null | undefined,
): Promise<Map<TokenObject, PublicKey>> {
  const proven = new Map<TokenObject, PublicKey>();
  const candidates: PublicKey[] = [];
  for (const o of objects) {
    if (o.kind !== 'private-key' && o.publicKey && !candidates.some((c) => samePublicKey(c, o.publicKey!))) {
      candidates.push(o.publicKey);
    }
  }
  for (const p of objects) {
    if (p.kind !== 'private-key' || p.publicKey || !p.canSign || !p.algorithm) continue;
    const mine = candidates.filter((c) => algorithmOf(c) === p.algorithm);
    if (mine.length === 0) continue;
    const scheme = signatureSchemeFor(mine[0]);
    const challenge = randomBytes(32);
    let raw: Buffer;
    try {
      raw = await signRaw(session, p.handle, mine[0], challenge, p.alwaysAuthenticate ? { contextPin } : {});
    } catch {
      // A key that will not sign cannot be proven; the plan reports it as unknown.
      continue;
    }
    const verified = mine.filter((c) => {
      const key = createPublicKey({ key: publicKeyToJwk(c), format: 'jwk' });
      return verify(scheme.hash, challenge, { key, dsaEncoding: 'ieee-p1363' }, raw);
    });
    if (verified.length === 1) proven.set(p, verified[0]);
  }
  return proven;
}

function algorithmOf(pk: PublicKey): TokenObject['algorithm'] {
  return pk.kind === 'rsa' ? 'rsa' : pk.kind === 'ecdsa' ? pk.curve : 'ed25519';
}
