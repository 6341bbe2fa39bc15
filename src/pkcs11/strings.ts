// PKCS#11's fixed-width text fields (CK_INFO, CK_SLOT_INFO, CK_TOKEN_INFO) and CKA_LABEL values,
// made into plain strings.
//
// The standard pads the fixed-width fields with blanks (PKCS#11 2.40 section 3.2), but modules
// in the field pad with NULs instead (opencryptoki: "Linux" and 59 NULs) or mix both. A NUL
// never belongs to the text, so the string ends at the first one, and trailing blanks go too.

/** A blank- or NUL-padded PKCS#11 string, without its padding. */
export function pkcs11String(s: string): string {
  const nul = s.indexOf('\0');
  return (nul < 0 ? s : s.slice(0, nul)).replace(/ +$/, '');
}

/** A CK_ULONG handle as the binding gives it (native-endian Buffer of 4 or 8 bytes), as a number. */
export function ulongHandle(b: Buffer): number {
  return Number(b.length === 8 ? b.readBigUInt64LE(0) : b.readUInt32LE(0));
}
