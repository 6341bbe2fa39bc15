// Picking the one private key a command acts on, by CKA_ID or CKA_LABEL.
import type { KeyPair } from '../pkcs11/discover';
import { ToolError } from './tool-errors';
import { formatId } from './key-spec';

export interface KeySelector {
  id?: Buffer;
  label?: string;
}

export function describeSelector(sel: KeySelector): string {
  const parts: string[] = [];
  if (sel.id) parts.push(`ID ${formatId(sel.id)}`);
  if (sel.label !== undefined) parts.push(`label "${sel.label}"`);
  return parts.join(' and ');
}

/** The single key pair with a private key matching the selector; ToolError otherwise. */
export function selectPrivateKey(pairs: KeyPair[], sel: KeySelector): KeyPair & { privateKey: Buffer } {
  const matches = pairs.filter((p): p is KeyPair & { privateKey: Buffer } => {
    const ref = p.objects.privateKey;
    if (!p.privateKey || !ref) return false;
    if (sel.id && !ref.id.equals(sel.id)) return false;
    if (sel.label !== undefined && ref.label !== sel.label) return false;
    return true;
  });
  if (matches.length === 0) {
    throw new ToolError('key-not-found', `no private key with ${describeSelector(sel)} on the token`);
  }
  if (matches.length > 1) {
    const which = matches.map((m) => `ID ${formatId(m.objects.privateKey!.id)} "${m.objects.privateKey!.label}"`);
    throw new ToolError(
      'key-ambiguous',
      `${matches.length} private keys match ${describeSelector(sel)}: ${which.join(', ')}`,
    );
  }
  return matches[0];
}
