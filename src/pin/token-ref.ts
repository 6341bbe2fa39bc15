// Which token a PIN belongs to. A token is named by its serial and label together
// (CK_TOKEN_INFO serialNumber and label): two cards of one model share a label, and a serial
// alone is only unique per manufacturer.

export interface TokenRef {
  label: string;
  serial: string;
  manufacturer?: string;
  model?: string;
}

/**
 * The key of a token in caches and the keyring account name's tail. Trimmed: CK_TOKEN_INFO
 * pads label and serial with blanks, and one layer may pass them padded, another not.
 */
export function tokenKey(token: TokenRef): string {
  return `${token.serial.trim()}:${token.label.trim()}`;
}

/** How a token is named to a person: `"work card" (serial 0123abcd)`. */
export function describeToken(token: TokenRef): string {
  const label = token.label.trim() || '(no label)';
  const serial = token.serial.trim();
  return serial ? `"${label}" (serial ${serial})` : `"${label}"`;
}

export interface TokenSelector {
  label?: string;
  serial?: string;
  manufacturer?: string;
  model?: string;
}

/**
 * Reads what `tt-agent unlock TOKEN` names: a pkcs11: URI (its token, serial, manufacturer
 * and model path attributes, RFC 7512 section 2.3), or a bare word that may be a label or a
 * serial. Empty means "any token".
 */
export function parseTokenSelector(text: string): TokenSelector | { any: string } | null {
  const s = text.trim();
  if (s === '') return null;
  if (!/^pkcs11:/i.test(s)) return { any: s };
  const path = s.slice('pkcs11:'.length).split('?')[0];
  const sel: TokenSelector = {};
  for (const part of path.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).toLowerCase();
    const value = percentDecode(part.slice(eq + 1));
    if (name === 'token') sel.label = value;
    else if (name === 'serial') sel.serial = value;
    else if (name === 'manufacturer') sel.manufacturer = value;
    else if (name === 'model') sel.model = value;
  }
  return sel;
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Whether `token` is one the selector names. CK_TOKEN_INFO strings are blank-padded, hence trim. */
export function tokenMatches(selector: ReturnType<typeof parseTokenSelector>, token: TokenRef): boolean {
  if (selector === null) return true;
  const label = token.label.trim();
  const serial = token.serial.trim();
  if ('any' in selector) return selector.any === label || selector.any === serial;
  if (selector.label !== undefined && selector.label.trim() !== label) return false;
  if (selector.serial !== undefined && selector.serial.trim() !== serial) return false;
  if (selector.manufacturer !== undefined && selector.manufacturer.trim() !== (token.manufacturer ?? '').trim()) return false;
  if (selector.model !== undefined && selector.model.trim() !== (token.model ?? '').trim()) return false;
  return true;
}
