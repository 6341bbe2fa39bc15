// One-line public keys as in ~/.ssh/*.pub and authorized_keys (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"):
//   [options] keytype base64-blob [comment]
import { decodePublicKeyBlob, encodePublicKeyBlob, printable } from './key-blob';
import type { PublicKey } from './public-key';
import { sshKeyType } from './public-key';
import { WireError } from './wire';

export interface AuthorizedKey {
  publicKey: PublicKey;
  blob: Buffer;
  comment: string;
  /** The raw options field (e.g. `no-pty,from="10.0.0.*"`), empty when absent. */
  options: string;
}

export function authorizedKeysLine(pk: PublicKey, comment?: string): string {
  const base = `${sshKeyType(pk)} ${encodePublicKeyBlob(pk).toString('base64')}`;
  // A newline in a comment would split the key into two lines of the file.
  const clean = comment?.replace(/[\r\n]+/g, ' ').trim();
  return clean ? `${base} ${clean}` : base;
}

const KEY_TYPE = /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521))$/;

export function parseAuthorizedKeysLine(line: string): AuthorizedKey {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) throw new WireError('no key on this line (empty or a comment)');
  let options = '';
  let rest = text;
  const first = firstField(rest);
  if (!KEY_TYPE.test(first) && !looksLikeUnsupportedType(first)) {
    options = first;
    rest = rest.slice(first.length).trimStart();
  }
  const type = firstField(rest);
  rest = rest.slice(type.length).trimStart();
  const b64 = firstField(rest);
  const comment = rest.slice(b64.length).trim();
  if (!KEY_TYPE.test(type)) throw new WireError(`unsupported key type "${printable(type)}"`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new WireError('key data is not base64');
  const blob = Buffer.from(b64, 'base64');
  const publicKey = decodePublicKeyBlob(blob);
  if (sshKeyType(publicKey) !== type) {
    throw new WireError(`line says ${type} but the key data is ${sshKeyType(publicKey)}`);
  }
  return { publicKey, blob, comment, options };
}

function looksLikeUnsupportedType(s: string): boolean {
  return /^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+$/.test(s) && !s.includes('=');
}

/** First whitespace-separated field; double quotes (in options) may hold spaces. */
function firstField(s: string): string {
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && inQuote) i++;
    else if (c === '"') inQuote = !inQuote;
    else if (!inQuote && (c === ' ' || c === '\t')) return s.slice(0, i);
  }
  return s;
}
