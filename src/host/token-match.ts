// Which tokens and keys a pkcs11: URI selects (RFC 7512 section 2.3: every attribute given
// must match; an attribute not given matches anything).
import type { KeyPair } from '../pkcs11/discover';
import type { Token } from '../pkcs11/token';
import type { Pkcs11Uri } from '../pkcs11/uri';

export function tokenMatches(uri: Pkcs11Uri | undefined, t: Token): boolean {
  if (!uri) return true;
  const i = t.info;
  if (uri.token !== undefined && uri.token !== i.label) return false;
  if (uri.serial !== undefined && uri.serial !== i.serial) return false;
  if (uri.manufacturer !== undefined && uri.manufacturer !== i.manufacturer) return false;
  if (uri.model !== undefined && uri.model !== i.model) return false;
  if (uri.slotDescription !== undefined && uri.slotDescription !== t.slot.description) return false;
  if (uri.slotManufacturer !== undefined && uri.slotManufacturer !== t.slot.manufacturer) return false;
  if (uri.slotId !== undefined && uri.slotId !== slotNumber(t)) return false;
  return true;
}

export function keyMatches(uri: Pkcs11Uri | undefined, k: KeyPair): boolean {
  if (!uri) return true;
  if (uri.id !== undefined && !uri.id.equals(k.id)) return false;
  if (uri.object !== undefined && uri.object !== k.label) return false;
  return true;
}

/** CK_SLOT_ID as a number (the binding hands it out as a native-endian CK_ULONG buffer). */
export function slotNumber(t: Token): number {
  const b = t.slot.slotId;
  return b.length === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}
