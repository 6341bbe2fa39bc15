// What `tt-agent fix-ids` would change, decided from the objects alone (no token access), so the
// rules can be read and tested in one place.
//
// Rules:
//  1. Every private key needs a CKA_ID of its own. A key with an empty ID, or one of several keys
//     sharing an ID, gets the SHA-1 of its public key (the RFC 5280 §4.2.1.2 key identifier, as
//     p11tool and OpenSC derive IDs) — except one key per shared ID keeps it: the only one whose
//     public part is unknown, or else the one most of that ID's certificates/public keys belong to.
//  2. Every certificate and public-key object whose public key is that of exactly one private key
//     gets that key's (possibly new) ID.
//  3. Anything else is reported and left alone: a public key on several private keys, a private key
//     whose public part is unknown and cannot be proven, an object no private key here belongs to.
import { createHash } from 'node:crypto';
import type { TokenObject } from '../pkcs11/objects';
import { samePublicKey } from '../pkcs11/key-material';
import type { PublicKey } from '../protocol/public-key';
import { subjectPublicKeyInfo } from '../x509/spki';
import { formatId } from './key-spec';

export interface IdChange {
  object: TokenObject;
  from: Buffer;
  to: Buffer;
}

export interface Finding {
  object: TokenObject;
  /** what is wrong, e.g. "CKA_ID matches no private key" */
  problem: string;
  /** what fix-ids does about it */
  change?: IdChange;
  /** why it is left alone */
  leftAlone?: string;
}

export interface FixPlan {
  findings: Finding[];
  changes: IdChange[];
}

/** SHA-1 over the subjectPublicKey bits: the same value selfsign puts in SubjectKeyIdentifier. */
export function keyIdentifier(pk: PublicKey): Buffer {
  return createHash('sha1').update(Buffer.from(subjectPublicKeyInfo(pk).subjectPublicKey)).digest();
}

/**
 * @param objects every key and certificate object on the token (private keys visible)
 * @param proven public keys established for private keys that reveal none, by a test signature
 */
export function planIdFixes(objects: TokenObject[], proven: Map<TokenObject, PublicKey> = new Map()): FixPlan {
  const privs = objects.filter((o) => o.kind === 'private-key');
  const others = objects.filter((o) => o.kind !== 'private-key');
  const material = (p: TokenObject) => p.publicKey ?? proven.get(p);
  const findings: Finding[] = [];
  const finalId = new Map<TokenObject, Buffer | undefined>();

  // Rule 1.
  const byId = groupBy(privs, (p) => p.id.toString('hex'));
  for (const [hex, group] of byId) {
    if (hex !== '' && group.length === 1) {
      finalId.set(group[0], group[0].id);
      continue;
    }
    const keeper = hex === '' ? undefined : pickKeeper(group, others, material);
    for (const p of group) {
      if (p === keeper) {
        finalId.set(p, p.id);
        continue;
      }
      const problem = hex === '' ? 'empty CKA_ID' : `CKA_ID ${hex} is shared by ${group.length} private keys`;
      const pk = material(p);
      if (!pk) {
        finalId.set(p, undefined);
        findings.push({ object: p, problem, leftAlone: 'its public key is unknown, so no ID can be derived for it' });
        continue;
      }
      const to = keyIdentifier(pk);
      const clash = privs.find((q) => q !== p && (q.id.equals(to) || finalId.get(q)?.equals(to)));
      if (clash) {
        finalId.set(p, undefined);
        findings.push({ object: p, problem, leftAlone: `its derived ID ${formatId(to)} is taken by another private key` });
        continue;
      }
      finalId.set(p, to);
      const change = { object: p, from: p.id, to };
      findings.push({ object: p, problem, change });
    }
  }

  // Rule 2 and 3.
  for (const o of others) {
    const owners = o.publicKey ? privs.filter((p) => material(p) && samePublicKey(material(p)!, o.publicKey!)) : [];
    const sameIdKeys = privs.filter((p) => p.id.equals(o.id) && o.id.length > 0);
    if (owners.length === 1) {
      const to = finalId.get(owners[0]);
      if (!to) {
        findings.push({ object: o, problem: 'its private key has no usable CKA_ID', leftAlone: 'fix the private key first (see above)' });
      } else if (!o.id.equals(to)) {
        const problem =
          o.id.length === 0
            ? 'empty CKA_ID'
            : sameIdKeys.length > 0 && !owners[0].id.equals(o.id)
              ? `CKA_ID ${formatId(o.id)} is another private key's`
              : owners[0].id.equals(o.id)
                ? `CKA_ID ${formatId(o.id)} is shared by several private keys`
                : `CKA_ID ${formatId(o.id)} matches no private key`;
        findings.push({ object: o, problem, change: { object: o, from: o.id, to } });
      }
      continue;
    }
    if (owners.length > 1) {
      findings.push({
        object: o,
        problem: `its public key belongs to ${owners.length} private keys`,
        leftAlone: 'ambiguous: the same key is on the token more than once',
      });
      continue;
    }
    // No private key here is known to hold this object's key.
    if (!o.publicKey) {
      if (sameIdKeys.length === 0) {
        findings.push({ object: o, problem: `unreadable (${o.error ?? 'no public key'})`, leftAlone: 'cannot be matched' });
      }
      continue;
    }
    const unknown = sameIdKeys.filter((p) => !material(p));
    if (unknown.length > 0) {
      findings.push({
        object: o,
        problem: `cannot tell whether it belongs to the private key with ID ${formatId(o.id)}`,
        leftAlone: 'that private key reveals no public part and could not be tested (it may not sign)',
      });
    } else if (sameIdKeys.length > 0) {
      findings.push({
        object: o,
        problem: `CKA_ID ${formatId(o.id)} is a private key's, but the public keys differ`,
        leftAlone: 'no private key on this token has its public key',
      });
    } else {
      findings.push({
        object: o,
        problem: o.id.length === 0 ? 'empty CKA_ID' : `CKA_ID ${formatId(o.id)} matches no private key`,
        leftAlone: 'no private key on this token has its public key (a CA certificate, or a key kept elsewhere)',
      });
    }
  }
  return { findings, changes: findings.flatMap((f) => (f.change ? [f.change] : [])) };
}

function pickKeeper(
  group: TokenObject[],
  others: TokenObject[],
  material: (p: TokenObject) => PublicKey | undefined,
): TokenObject | undefined {
  const unknown = group.filter((p) => !material(p));
  if (unknown.length === 1) return unknown[0];
  if (unknown.length > 1) return undefined;
  const score = (p: TokenObject) =>
    others.filter((o) => o.id.equals(p.id) && o.publicKey && samePublicKey(o.publicKey, material(p)!)).length;
  const scores = group.map(score);
  const best = Math.max(...scores);
  return best > 0 && scores.filter((s) => s === best).length === 1 ? group[scores.indexOf(best)] : undefined;
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const g = m.get(k);
    if (g) g.push(it);
    else m.set(k, [it]);
  }
  return m;
}
