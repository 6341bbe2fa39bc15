// What `tt-agent list` advises about CKA_IDs comes from the fix-ids planner itself, so that the
// two never disagree: a key row says "run tt-agent fix-ids" exactly when fix-ids would change
// one of its objects, and says why fix-ids leaves it alone otherwise.
//
// list proves nothing by signing: a private key that reveals no public part is taken to have the
// public key its row was paired with (fix-ids establishes the same with a test signature).
import type { KeyPair, PairIssue } from '../pkcs11/discover';
import type { TokenObject } from '../pkcs11/objects';
import type { PublicKey } from '../protocol/public-key';
import { formatId } from './key-spec';
import { planIdFixes } from './fix-ids-plan';

const FIX_IDS = '; run tt-agent fix-ids';

/** `pairs` with their CKA_ID advice decided by the planner over `objects` (private keys visible). */
export function adviseIdFixes(pairs: KeyPair[], objects: TokenObject[]): KeyPair[] {
  const byHandle = (h: Buffer | undefined) => (h ? objects.find((o) => o.handle.equals(h)) : undefined);
  const proven = new Map<TokenObject, PublicKey>();
  for (const p of pairs) {
    const priv = byHandle(p.privateKey);
    if (priv && !priv.publicKey && p.publicKey) proven.set(priv, p.publicKey);
  }
  const plan = planIdFixes(objects, proven);
  return pairs.map((p) => {
    const handles = [p.objects.privateKey, p.objects.publicKeyObject, p.objects.certificate, ...(p.objects.copies ?? [])].flatMap((r) => (r ? [r.handle] : []));
    const mine = plan.findings.filter((f) => handles.some((h) => h.equals(f.object.handle)));
    const change = mine.find((f) => f.change);
    const issues: PairIssue[] = p.issues.map((i) => {
      if (!i.message.endsWith(FIX_IDS) || change) return i;
      const stays = mine.find((f) => f.leftAlone);
      const base = i.message.slice(0, -FIX_IDS.length);
      return { ...i, message: stays ? `${base}; fix-ids leaves it: ${stays.leftAlone}` : base };
    });
    if (change && !issues.some((i) => i.message.endsWith(FIX_IDS))) {
      issues.push({ code: 'id-mismatch', message: `${change.problem} (${formatId(change.object.id)})${FIX_IDS}` });
    }
    return { ...p, issues, problems: issues.map((i) => i.message) };
  });
}
