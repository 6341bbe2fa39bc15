// Distinguished names as users type them, into the X.501 Name a certificate carries.
//
// Two spellings are accepted:
//  - RFC 4514: "CN=alice,O=Example Corp,C=DE". RFC 4514 §2.1 writes the most specific RDN first, so
//    the encoded RDNSequence is the reverse of the text (openssl then prints "C=DE, O=Example Corp, CN=alice").
//    Escapes per §2.4/§3: "\," "\+" "\"" "\\" "\<" "\>" "\;" "\=" "\#" "\ " and "\XX" hex pairs (UTF-8 bytes);
//    "#0C05616C696365" gives the BER value directly. Spaces around separators are ignored (RFC 2253 habit).
//  - OpenSSL's "-subj" form: "/O=Example Corp/CN=alice", written in encoding order, "\/" escapes a slash.
// In both, "+" joins attributes into one multi-valued RDN.
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { CertificateInputError } from './x509-errors';
import { toArrayBuffer } from './spki';

type StringType = 'utf8String' | 'printableString' | 'ia5String';

// Short names from RFC 4514 §3 plus the ones OpenSSL users write; OIDs from X.520 / RFC 4519 / PKCS#9.
const ATTRIBUTE_TYPES: Record<string, { oid: string; type: StringType }> = {
  CN: { oid: '2.5.4.3', type: 'utf8String' },
  SN: { oid: '2.5.4.4', type: 'utf8String' },
  SERIALNUMBER: { oid: '2.5.4.5', type: 'printableString' },
  C: { oid: '2.5.4.6', type: 'printableString' },
  L: { oid: '2.5.4.7', type: 'utf8String' },
  ST: { oid: '2.5.4.8', type: 'utf8String' },
  STREET: { oid: '2.5.4.9', type: 'utf8String' },
  O: { oid: '2.5.4.10', type: 'utf8String' },
  OU: { oid: '2.5.4.11', type: 'utf8String' },
  TITLE: { oid: '2.5.4.12', type: 'utf8String' },
  GN: { oid: '2.5.4.42', type: 'utf8String' },
  GIVENNAME: { oid: '2.5.4.42', type: 'utf8String' },
  UID: { oid: '0.9.2342.19200300.100.1.1', type: 'utf8String' },
  DC: { oid: '0.9.2342.19200300.100.1.25', type: 'ia5String' },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', type: 'ia5String' },
};

interface ParsedAttribute {
  type: string; // as written, for messages
  oid: string;
  value: { text: string } | { ber: Buffer };
}

export function parseDistinguishedName(input: string): Name {
  const text = trimUnescapedSpaces(input);
  if (text === '') throw bad('the subject is empty', input);
  const slashForm = text.startsWith('/');
  const rdns = splitUnescaped(slashForm ? text.slice(1) : text, slashForm ? '/' : ',', input).map((rdnText) =>
    splitUnescaped(rdnText, '+', input).map((atv) => parseAttribute(atv, input, slashForm)),
  );
  if (!slashForm) rdns.reverse();
  return new Name(
    rdns.map((atvs) => new RelativeDistinguishedName(atvs.map((a) => toAttributeTypeAndValue(a, input)))),
  );
}

/** Splits on `sep` where it is not escaped by a backslash; a separator with nothing around it is an error. */
function splitUnescaped(s: string, sep: string, input: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\') {
      if (i + 1 >= s.length) throw bad('it ends in a lone backslash', input);
      cur += ch + s[++i];
    } else if (ch === sep) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) if (p.trim() === '') throw bad(`it has an empty element around '${sep}'`, input);
  return parts;
}

function parseAttribute(atv: string, input: string, slashForm: boolean): ParsedAttribute {
  const eq = atv.indexOf('=');
  if (eq < 0) throw bad(`"${atv.trim()}" has no '='`, input);
  const typeText = atv.slice(0, eq).trim();
  const oid = attributeOid(typeText, input);
  const rawValue = atv.slice(eq + 1);
  const trimmed = trimUnescapedSpaces(rawValue);
  if (trimmed.startsWith('#')) return { type: typeText, oid, value: { ber: parseHexValue(trimmed.slice(1), typeText, input) } };
  const text = unescapeValue(trimmed, typeText, input, slashForm);
  if (text === '') throw bad(`${typeText} has an empty value`, input);
  return { type: typeText, oid, value: { text } };
}

function attributeOid(typeText: string, input: string): string {
  if (/^\d+(\.\d+)+$/.test(typeText)) return typeText;
  const known = ATTRIBUTE_TYPES[typeText.toUpperCase()];
  if (!known) {
    throw bad(
      `unknown attribute type "${typeText}" (known: CN, O, OU, C, ST, L, STREET, DC, UID, SN, GN, title, serialNumber, emailAddress, or a dotted OID)`,
      input,
    );
  }
  return known.oid;
}

function trimUnescapedSpaces(v: string): string {
  let start = 0;
  while (start < v.length && v[start] === ' ') start++;
  let end = v.length;
  // A trailing space stays if a backslash escapes it ("a\ ").
  while (end > start && v[end - 1] === ' ' && !isEscaped(v, end - 1)) end--;
  return v.slice(start, end);
}

function isEscaped(v: string, index: number): boolean {
  let n = 0;
  for (let i = index - 1; i >= 0 && v[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

// RFC 4514 §3: these must be escaped inside a value; '=' may appear bare.
const MUST_ESCAPE = new Set(['"', ';', '<', '>', '+', ',']);
const ESCAPABLE = new Set([' ', '"', '#', '+', ',', ';', '<', '=', '>', '\\', '/']);

function unescapeValue(v: string, typeText: string, input: string, slashForm: boolean): string {
  const bytes: number[] = [];
  const pushText = (s: string) => bytes.push(...Buffer.from(s, 'utf8'));
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    if (ch === '\\') {
      const next = v[i + 1];
      if (next !== undefined && /[0-9a-fA-F]/.test(next) && /[0-9a-fA-F]/.test(v[i + 2] ?? '')) {
        bytes.push(parseInt(v.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (next !== undefined && ESCAPABLE.has(next)) {
        pushText(next);
        i += 1;
      } else {
        throw bad(`${typeText} has an invalid escape "\\${next ?? ''}"`, input);
      }
    } else if (MUST_ESCAPE.has(ch) && !(slashForm && (ch === ',' || ch === ';'))) {
      throw bad(`${typeText} has an unescaped '${ch}' (write \\${ch})`, input);
    } else {
      pushText(ch);
    }
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(buf)) throw bad(`${typeText} has hex escapes that are not valid UTF-8`, input);
  return text;
}

function parseHexValue(hex: string, typeText: string, input: string): Buffer {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw bad(`${typeText} has a malformed #hex value`, input);
  const ber = Buffer.from(hex, 'hex');
  // Only a single, complete TLV is a value; anything else would corrupt the Name.
  if (ber.length < 2 || !tlvSpansExactly(ber)) throw bad(`${typeText}'s #hex value is not one BER element`, input);
  return ber;
}

function tlvSpansExactly(b: Buffer): boolean {
  let len = b[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || b.length < 2 + n) return false;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[2 + i];
    off = 2 + n;
  }
  return off + len === b.length;
}

function toAttributeTypeAndValue(a: ParsedAttribute, input: string): AttributeTypeAndValue {
  if ('ber' in a.value) {
    return new AttributeTypeAndValue({ type: a.oid, value: new AttributeValue({ anyValue: toArrayBuffer(a.value.ber) }) });
  }
  const text = a.value.text;
  const known = Object.values(ATTRIBUTE_TYPES).find((t) => t.oid === a.oid);
  const stringType: StringType = known?.type ?? 'utf8String';
  if (a.oid === '2.5.4.6' && !/^[A-Za-z]{2}$/.test(text)) {
    throw bad(`C must be a two-letter country code (ISO 3166), not "${text}"`, input);
  }
  if (stringType === 'printableString' && !/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) {
    throw bad(`${a.type} may hold only letters, digits, spaces and '()+,-./:=? (PrintableString)`, input);
  }
  if (stringType === 'ia5String' && !/^[\x00-\x7f]*$/.test(text)) {
    throw bad(`${a.type} may hold only ASCII characters`, input);
  }
  return new AttributeTypeAndValue({ type: a.oid, value: new AttributeValue({ [stringType]: text }) });
}

function bad(why: string, input: string): CertificateInputError {
  return new CertificateInputError('subject', `malformed subject "${input}": ${why}`);
}
