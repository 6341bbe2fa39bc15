// What a client asks the agent to sign, read from the data alone (no I/O): an SSH user-auth
// request (RFC 4252 section 7), an SSHSIG blob (OpenSSH PROTOCOL.sshsig) or something else.
// Used to describe each use of a key; the destination rules keep their own stricter parser.
import { SshReader } from './wire';

const SSH2_MSG_USERAUTH_REQUEST = 50;
const SSHSIG_MAGIC = Buffer.from('SSHSIG');
// The hash lengths PROTOCOL.sshsig allows, by name.
const SSHSIG_HASH_BYTES: Record<string, number> = { sha256: 32, sha512: 64 };
// Long enough for any real namespace or user name; a longer one is cut in the description.
const MAX_TEXT = 256;
// A session id is an exchange hash: 64 bytes for SHA-512 kex, the largest in use.
const MAX_SESSION_ID = 64;

export interface SshLoginData {
  kind: 'ssh-login';
  sessionId: Buffer;
  user: string;
  service: string;
  /** `publickey` or `publickey-hostbound-v00@openssh.com`. */
  method: string;
  keyAlgorithm: string;
  keyBlob: Buffer;
  /** The server's host key, sent in the hostbound method only (as the client claims it). */
  hostKeyBlob?: Buffer;
}

export interface SshsigData {
  kind: 'sshsig';
  namespace: string;
  hashAlgorithm: string;
}

export interface OtherData {
  kind: 'other';
  length: number;
}

export type SignedData = SshLoginData | SshsigData | OtherData;
export type SignedDataKind = SignedData['kind'];

export function classifySignedData(data: Buffer): SignedData {
  if (data.length >= SSHSIG_MAGIC.length && data.subarray(0, SSHSIG_MAGIC.length).equals(SSHSIG_MAGIC)) {
    const sig = parseSshsig(data);
    if (sig) return sig;
  } else {
    const login = parseLogin(data);
    if (login) return login;
  }
  return { kind: 'other', length: data.length };
}

/**
 *   string session_id / byte SSH_MSG_USERAUTH_REQUEST / string user / string service
 *   string "publickey" / bool TRUE / string algorithm / string key_blob
 *   [string host_key, for publickey-hostbound-v00@openssh.com]
 */
function parseLogin(data: Buffer): SshLoginData | undefined {
  // Most data that is not a login fails here, without the cost of a thrown WireError.
  if (data.length < 5) return undefined;
  const idLength = data.readUInt32BE(0);
  if (idLength === 0 || idLength > MAX_SESSION_ID || data[4 + idLength] !== SSH2_MSG_USERAUTH_REQUEST) return undefined;
  try {
    const r = new SshReader(data);
    const sessionId = r.string();
    if (sessionId.length === 0 || r.uint8() !== SSH2_MSG_USERAUTH_REQUEST) return undefined;
    const user = r.stringUtf8();
    const service = r.stringUtf8();
    const method = r.stringUtf8();
    if (!r.bool()) return undefined;
    const keyAlgorithm = r.stringUtf8();
    const keyBlob = r.string();
    let hostKeyBlob: Buffer | undefined;
    if (method === 'publickey-hostbound-v00@openssh.com') hostKeyBlob = r.string();
    else if (method !== 'publickey') return undefined;
    if (!r.atEnd) return undefined;
    return { kind: 'ssh-login', sessionId, user: cut(user), service: cut(service), method, keyAlgorithm: cut(keyAlgorithm), keyBlob, hostKeyBlob };
  } catch {
    return undefined;
  }
}

/**
 *   byte[6] "SSHSIG" / string namespace / string reserved / string hash_algorithm / string H(message)
 */
function parseSshsig(data: Buffer): SshsigData | undefined {
  try {
    const r = new SshReader(data.subarray(SSHSIG_MAGIC.length));
    const namespace = r.stringUtf8();
    r.string(); // reserved
    const hashAlgorithm = r.stringUtf8();
    const hash = r.string();
    if (!r.atEnd || namespace === '' || SSHSIG_HASH_BYTES[hashAlgorithm] !== hash.length) return undefined;
    return { kind: 'sshsig', namespace: cut(namespace), hashAlgorithm };
  } catch {
    return undefined;
  }
}

function cut(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}
