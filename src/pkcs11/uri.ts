// RFC 7512 PKCS#11 URIs: pkcs11:path-attr;path-attr?query-attr&query-attr
import { UriError } from './errors';

export type ObjectType = 'public' | 'private' | 'cert' | 'secret-key' | 'data';

export interface Pkcs11Uri {
  // token selection (path attributes, RFC 7512 section 2.3)
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: string;
  slotDescription?: string;
  slotManufacturer?: string;
  slotId?: number;
  // object selection
  /** CKA_ID bytes */
  id?: Buffer;
  /** CKA_LABEL */
  object?: string;
  type?: ObjectType;
  // query attributes
  pinSource?: string;
  pinValue?: string;
  moduleName?: string;
  modulePath?: string;
  /** the text parsed */
  text: string;
}

const PATH_ATTRS: Record<string, keyof Pkcs11Uri> = {
  token: 'token',
  manufacturer: 'manufacturer',
  serial: 'serial',
  model: 'model',
  'library-manufacturer': 'libraryManufacturer',
  'library-description': 'libraryDescription',
  'library-version': 'libraryVersion',
  'slot-description': 'slotDescription',
  'slot-manufacturer': 'slotManufacturer',
  'slot-id': 'slotId',
  id: 'id',
  object: 'object',
  type: 'type',
};

const QUERY_ATTRS: Record<string, keyof Pkcs11Uri> = {
  'pin-source': 'pinSource',
  'pin-value': 'pinValue',
  'module-name': 'moduleName',
  'module-path': 'modulePath',
};

const TYPES: ObjectType[] = ['public', 'private', 'cert', 'secret-key', 'data'];

export function isPkcs11Uri(s: string): boolean {
  return /^pkcs11:/i.test(s);
}

/** Parses a pkcs11: URI; throws UriError naming the part that is wrong. */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!isPkcs11Uri(text)) throw new UriError(text, text.slice(0, 12), "a PKCS#11 URI starts with 'pkcs11:'");
  const rest = text.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const uri: Pkcs11Uri = { text };
  const seen = new Set<string>();

  for (const part of path === '' ? [] : path.split(';')) {
    const { name, value } = splitAttr(text, part);
    // RFC 7512 2.3: each path attribute at most once.
    if (seen.has(name)) throw new UriError(text, part, `attribute '${name}' given twice`);
    seen.add(name);
    if (name.startsWith('x-')) continue; // vendor extension: ours to ignore
    const key = PATH_ATTRS[name];
    if (!key) {
      const hint = QUERY_ATTRS[name] ? ` ('${name}' belongs after '?')` : '';
      throw new UriError(text, part, `unknown attribute '${name}'${hint}`);
    }
    setAttr(uri, key, value, part);
  }
  for (const part of query === '' ? [] : query.split('&')) {
    const { name, value } = splitAttr(text, part);
    if (name.startsWith('x-')) continue;
    const key = QUERY_ATTRS[name];
    if (!key) {
      const hint = PATH_ATTRS[name] ? ` ('${name}' belongs before '?', separated by ';')` : '';
      throw new UriError(text, part, `unknown query attribute '${name}'${hint}`);
    }
    if (uri[key] !== undefined) throw new UriError(text, part, `attribute '${name}' given twice`);
    setAttr(uri, key, value, part);
  }
  if (uri.pinSource !== undefined && uri.pinValue !== undefined) {
    throw new UriError(text, 'pin-value', "give either 'pin-source' or 'pin-value', not both");
  }
  return uri;
}

function splitAttr(text: string, part: string): { name: string; value: Buffer } {
  const eq = part.indexOf('=');
  if (eq <= 0) throw new UriError(text, part, part === '' ? 'empty attribute' : "expected 'name=value'");
  const name = part.slice(0, eq).toLowerCase();
  return { name, value: pctDecode(text, part, part.slice(eq + 1)) };
}

/** Percent-decoding to bytes: id= is binary, the rest UTF-8. */
function pctDecode(text: string, part: string, s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new UriError(text, part, `bad percent-escape '%${hex}'`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

function setAttr(uri: Pkcs11Uri, key: keyof Pkcs11Uri, value: Buffer, part: string): void {
  const text = uri.text;
  const str = value.toString('utf8');
  switch (key) {
    case 'id':
      uri.id = value;
      return;
    case 'type':
      if (!TYPES.includes(str as ObjectType)) {
        throw new UriError(text, part, `type must be one of ${TYPES.join(', ')}`);
      }
      uri.type = str as ObjectType;
      return;
    case 'slotId':
      if (!/^[0-9]+$/.test(str)) throw new UriError(text, part, 'slot-id must be a decimal number');
      uri.slotId = Number(str);
      return;
    default:
      // the remaining attributes are plain strings
      (uri as unknown as Record<string, string>)[key] = str;
  }
}

/** Builds a URI back, e.g. for listings: `pkcs11:token=...;id=%01`. */
export function formatPkcs11Uri(attrs: { token?: string; serial?: string; id?: Buffer; object?: string; type?: ObjectType }): string {
  const parts: string[] = [];
  if (attrs.token !== undefined) parts.push(`token=${pctEncode(Buffer.from(attrs.token))}`);
  if (attrs.serial !== undefined) parts.push(`serial=${pctEncode(Buffer.from(attrs.serial))}`);
  if (attrs.object !== undefined) parts.push(`object=${pctEncode(Buffer.from(attrs.object))}`);
  if (attrs.id !== undefined) parts.push(`id=${[...attrs.id].map((b) => '%' + b.toString(16).padStart(2, '0')).join('')}`);
  if (attrs.type !== undefined) parts.push(`type=${attrs.type}`);
  return `pkcs11:${parts.join(';')}`;
}

function pctEncode(b: Buffer): string {
  // RFC 7512 2.3 pchar without ';' '?' '&' '%' '=' ... keep unreserved, escape the rest.
  let out = '';
  for (const byte of b) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~:@!$'()*+,]/.test(c) && byte < 0x80 ? c : '%' + byte.toString(16).padStart(2, '0');
  }
  return out;
}
