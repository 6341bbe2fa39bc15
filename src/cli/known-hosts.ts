// Host key lookup in known_hosts files, as OpenSSH matches a name against them (sshd(8)
// "SSH_KNOWN_HOSTS FILE FORMAT"): one entry a line,
//   [@cert-authority|@revoked] host-patterns keytype base64-key [comment]
// host-patterns is a comma list of globs ('*', '?', a leading '!' negates, `[host]:port` for
// a non-default port) or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
// Names are looked up exactly as given: `[host]:port` entries match only that spelling.
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodePublicKeyBlob, peekKeyType } from '../protocol/key-blob';
import { globMatches } from '../protocol/glob';

export type KnownHostsMarker = 'none' | 'cert-authority' | 'revoked';

export interface KnownHostsEntry {
  marker: KnownHostsMarker;
  /** The host-patterns field as written (hashed or a pattern list). */
  hosts: string;
  keyType: string;
  keyBlob: Buffer;
}

export interface KnownHostKey extends KnownHostsEntry {
  file: string;
  line: number;
}

export interface KnownHostsSearch {
  keys: KnownHostKey[];
  /** Every file tried, with why one was not read. */
  files: { file: string; problem?: 'missing' | 'unreadable' }[];
  /** Plain `[name]:port` patterns seen: the name is known, but only with a port. */
  withPort: string[];
}

const HASH_MAGIC = '|1|';

// Plain key types OpenSSH reads from a known_hosts line; anything else it skips.
const OTHER_KEY_TYPES = new Set(['ssh-dss', 'sk-ecdsa-sha2-nistp256@openssh.com', 'sk-ssh-ed25519@openssh.com']);

/** One line parsed, or undefined for comments, blank, malformed and SSH-1 lines (skipped, as OpenSSH does). */
export function parseKnownHostsLine(text: string): KnownHostsEntry | undefined {
  const fields = text.trim().split(/[ \t]+/);
  if (fields[0] === '' || fields[0].startsWith('#')) return undefined;
  let marker: KnownHostsMarker = 'none';
  if (fields[0].startsWith('@')) {
    if (fields[0] === '@cert-authority') marker = 'cert-authority';
    else if (fields[0] === '@revoked') marker = 'revoked';
    else return undefined;
    fields.shift();
  }
  const [hosts, keyType, base64] = fields;
  if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  const keyBlob = Buffer.from(base64, 'base64');
  try {
    // The type inside the blob must be the one the line names (OpenSSH: key type mismatch).
    if (peekKeyType(keyBlob) !== keyType) return undefined;
    if (!OTHER_KEY_TYPES.has(keyType)) decodePublicKeyBlob(keyBlob);
  } catch {
    return undefined;
  }
  return { marker, hosts, keyType, keyBlob };
}

/** Does `name` match a host-patterns field (hashed, or a pattern list with negation)? */
export function hostFieldMatches(name: string, field: string): boolean {
  if (field.startsWith(HASH_MAGIC)) return hashedNameMatches(name, field);
  return patternListMatches(name.toLowerCase(), field.toLowerCase());
}

function hashedNameMatches(name: string, field: string): boolean {
  const parts = field.slice(HASH_MAGIC.length).split('|');
  if (parts.length !== 2) return false;
  const salt = Buffer.from(parts[0], 'base64');
  const want = Buffer.from(parts[1], 'base64');
  // SHA-1 output and ssh-keygen -H's salt are both 20 bytes; anything else is not a hash line.
  if (salt.length !== 20 || want.length !== 20) return false;
  const got = createHmac('sha1', salt).update(name).digest();
  return timingSafeEqual(got, want);
}

/** A comma list matches when some pattern matches and no negated ('!') one does. */
export function patternListMatches(name: string, list: string): boolean {
  let positive = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (!globMatches(name, pattern)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}

/** `~/x` as OpenSSH expands it: the account's home directory, not $HOME. */
export function expandTilde(file: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(os.userInfo().homedir, file.slice(1));
  return file;
}

/** Every entry for `name` in `files`, in file and line order; missing files are skipped. */
export function findHostKeys(name: string, files: readonly string[]): KnownHostsSearch {
  const out: KnownHostsSearch = { keys: [], files: [], withPort: [] };
  const portPrefix = `[${name.toLowerCase()}]:`;
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(expandTilde(file), 'utf8');
    } catch (err) {
      out.files.push({ file, problem: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable' });
      continue;
    }
    out.files.push({ file });
    text.split('\n').forEach((line, i) => {
      const entry = parseKnownHostsLine(line);
      if (!entry) return;
      if (hostFieldMatches(name, entry.hosts)) {
        out.keys.push({ ...entry, file, line: i + 1 });
      } else if (!entry.hosts.startsWith(HASH_MAGIC)) {
        for (const p of entry.hosts.toLowerCase().split(',')) {
          if (p.startsWith(portPrefix) && !out.withPort.includes(p)) out.withPort.push(p);
        }
      }
    });
  }
  return out;
}
