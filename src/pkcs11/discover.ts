// Finding the keys on a token and pairing private key ↔ public-key object ↔ certificate.
// CKA_ID is the intended link, but tokens in the field have empty IDs, IDs reused for
// several keys, and certificates imported under another ID than their key (OpenSSH then
// offers the key and fails every signature). So public-key material comes first wherever
// it is known, and CKA_ID pairs only what the material cannot.
import type { PublicKey } from '../protocol/public-key';
import { samePublicKey } from './key-material';
import { readAllObjects, type KeyType, type ObjectRef, type ReadObject } from './key-reader';
import type { Session } from './session';

export type { KeyType, ObjectRef } from './key-reader';

export type PairIssueCode =
  | 'cert-without-key' // a certificate whose private key is not on the token
  | 'public-without-key' // a public-key object whose private key is not on the token
  | 'private-key-hidden' // not logged in: private keys may exist but are not visible
  | 'id-mismatch' // the objects of one key carry different CKA_IDs
  | 'empty-id' // CKA_ID is empty
  | 'duplicate-id' // several keys share one CKA_ID
  | 'no-public-key' // a private key whose public key cannot be found
  | 'cannot-sign' // CKA_SIGN is false
  | 'bad-certificate'; // the certificate does not parse

export interface PairIssue {
  code: PairIssueCode;
  message: string;
}

export interface KeyPair {
  /** CKA_ID of the private key, else of the public-key object, else of the certificate */
  id: Buffer;
  /** CKA_LABEL, same order of preference */
  label: string;
  /**
   * The key's comment, by OpenSSH's rule (ssh-keygen -D, ssh-add -l after ssh-add -s): the
   * public-key object's CKA_LABEL (even when empty), else the certificate's subject written as
   * "/CN=alice/O=Example", else the private key's label. `pubkey`, `list` and the agent use it.
   */
  comment: string;
  /** object handles */
  privateKey?: Buffer;
  publicKeyObject?: Buffer;
  certificate?: Buffer;
  /** each object with its own CKA_ID and label; copies: further public keys and certificates of this key */
  objects: { privateKey?: ObjectRef; publicKeyObject?: ObjectRef; certificate?: ObjectRef; copies?: ObjectRef[] };
  keyType: KeyType;
  publicKey?: PublicKey;
  /** where publicKey was read */
  publicKeySource?: 'public-key-object' | 'private-key' | 'certificate';
  /** subject of the certificate, e.g. "CN=alice" */
  certSubject?: string;
  /** a private key with CKA_SIGN and a known public key */
  canSign: boolean;
  /** CKA_ALWAYS_AUTHENTICATE: a context-specific login before every signature */
  alwaysAuthenticate: boolean;
  issues: PairIssue[];
  /** the issues' messages */
  problems: string[];
}

type Found = ReadObject;

export interface FindKeyPairsOptions {
  /**
   * Whether private objects are visible. Default: the session is logged in or the token
   * needs no login. Decides between "no private key" and "not visible without login".
   */
  privateVisible?: boolean;
}

export function findKeyPairs(session: Session, options: FindKeyPairsOptions = {}): KeyPair[] {
  const privateVisible = options.privateVisible ?? (session.loggedIn || !session.token.info.loginRequired);
  const all = readAllObjects(session);
  return pairObjects(all.privateKeys, all.publicKeys, all.certificates, privateVisible);
}

interface Draft {
  priv?: Found;
  pub?: Found;
  cert?: Found;
  publicKey?: PublicKey;
  /**
   * Further public-key objects and certificates of the same key (a certificate imported twice,
   * a renewed one): one key, not orphans, and not "an ID used by more than one key".
   */
  copies: { slot: 'pub' | 'cert'; found: Found }[];
}

/** The pairing itself, apart from the token so that it can be reasoned about alone. */
export function pairObjects(privs: Found[], pubs: Found[], certs: Found[], privateVisible: boolean): KeyPair[] {
  const drafts: Draft[] = privs.map((p) => ({ priv: p, publicKey: p.publicKey, copies: [] }));
  attach(drafts, pubs, 'pub');
  attach(drafts, certs, 'cert');
  const dupes = duplicateIds(drafts);
  // Tokens return objects in no particular order; listings should not reshuffle between runs.
  return drafts
    .map((d) => finish(d, privateVisible, dupes))
    .sort((a, b) => Buffer.compare(a.id, b.id) || a.label.localeCompare(b.label));
}

function attach(drafts: Draft[], objects: Found[], slot: 'pub' | 'cert'): void {
  // Objects under their key's own CKA_ID first, so that of two copies the one in order is the
  // pair's and the other is the copy that needs a new ID.
  const ordered = [...objects].sort((a, b) => Number(!sameIdAsKey(drafts, a)) - Number(!sameIdAsKey(drafts, b)));
  for (const obj of ordered) {
    const free = drafts.filter((d) => !d[slot]);
    let target: Draft | undefined;
    if (obj.publicKey) target = free.find((d) => d.publicKey && samePublicKey(d.publicKey, obj.publicKey!));
    if (!target && obj.publicKey) {
      const owner = drafts.find((d) => d[slot] && d.publicKey && samePublicKey(d.publicKey, obj.publicKey!));
      if (owner) {
        owner.copies.push({ slot, found: obj });
        continue;
      }
    }
    if (!target && obj.ref.id.length > 0) {
      // By CKA_ID only when exactly one key carries it and the material does not contradict.
      const sameId = free.filter(
        (d) =>
          anchorId(d)?.equals(obj.ref.id) && !(d.publicKey && obj.publicKey && !samePublicKey(d.publicKey, obj.publicKey)),
      );
      if (sameId.length === 1) target = sameId[0];
    }
    if (!target) {
      target = { copies: [] };
      drafts.push(target);
    }
    target[slot] = obj;
    if (!target.publicKey && obj.publicKey) target.publicKey = obj.publicKey;
  }
}

function anchorId(d: Draft): Buffer | undefined {
  return (d.priv ?? d.pub ?? d.cert)?.ref.id;
}

/** Whether a private key with the same public key carries the object's CKA_ID. */
function sameIdAsKey(drafts: Draft[], obj: Found): boolean {
  return drafts.some((d) => d.priv && d.publicKey && obj.publicKey && samePublicKey(d.publicKey, obj.publicKey) && d.priv.ref.id.equals(obj.ref.id));
}

/** IDs that objects of one class carry for more than one key (copies of one key do not count). */
function duplicateIds(drafts: Draft[]): Set<string> {
  const dupes = new Set<string>();
  for (const slot of ['priv', 'pub', 'cert'] as const) {
    const seen = new Set<string>();
    for (const d of drafts) {
      const ids = new Set([d[slot], ...d.copies.filter((c) => c.slot === slot).map((c) => c.found)].flatMap((f) => (f && f.ref.id.length > 0 ? [f.ref.id.toString('hex')] : [])));
      for (const hex of ids) {
        if (seen.has(hex)) dupes.add(hex);
        seen.add(hex);
      }
    }
  }
  return dupes;
}

function finish(d: Draft, privateVisible: boolean, dupes: Set<string>): KeyPair {
  const main = (d.priv ?? d.pub ?? d.cert)!;
  const issues: PairIssue[] = [];
  const add = (code: PairIssueCode, message: string) => issues.push({ code, message });
  const members: [string, Found | undefined][] = [
    ['private key', d.priv],
    ['public key', d.pub],
    ['certificate', d.cert],
  ];
  for (const c of d.copies) members.push([c.slot === 'pub' ? 'public key' : 'certificate', c.found]);
  const present = members.filter((m): m is [string, Found] => m[1] !== undefined);

  if (present.some(([, f]) => f.ref.id.length === 0)) add('empty-id', 'empty CKA_ID; run tt-agent fix-ids');
  const ids = new Set(present.map(([, f]) => f.ref.id.toString('hex')));
  if (ids.size > 1) {
    const list = present.map(([what, f]) => `${what} ${f.ref.id.toString('hex') || '(empty)'}`).join(', ');
    add('id-mismatch', `CKA_ID differs: ${list}; run tt-agent fix-ids`);
  }
  const dup = present.find(([, f]) => dupes.has(f.ref.id.toString('hex')));
  if (dup) add('duplicate-id', `CKA_ID ${dup[1].ref.id.toString('hex')} is used by more than one key; run tt-agent fix-ids`);

  if (!d.priv) {
    if (!privateVisible) add('private-key-hidden', 'private key not visible without login');
    else if (d.cert && !d.pub) add('cert-without-key', 'certificate without a private key on this token');
    else add('public-without-key', 'no private key on this token');
  } else {
    if (!d.publicKey) add('no-public-key', 'public key unknown: no public-key object or certificate for this private key');
    if (d.priv.sign === false) add('cannot-sign', 'private key has CKA_SIGN false');
  }
  if (d.cert?.error) add('bad-certificate', d.cert.error);

  const publicKeySource = !d.publicKey
    ? undefined
    : d.pub?.publicKey && samePublicKey(d.pub.publicKey, d.publicKey)
      ? 'public-key-object'
      : d.priv?.publicKey && samePublicKey(d.priv.publicKey, d.publicKey)
        ? 'private-key'
        : 'certificate';

  return {
    id: main.ref.id,
    label: d.priv?.ref.label || d.pub?.ref.label || d.cert?.ref.label || '',
    comment: d.pub ? d.pub.ref.label : d.cert ? d.cert.subjectLine ?? '' : (d.priv?.ref.label ?? ''),
    privateKey: d.priv?.ref.handle,
    publicKeyObject: d.pub?.ref.handle,
    certificate: d.cert?.ref.handle,
    objects: { privateKey: d.priv?.ref, publicKeyObject: d.pub?.ref, certificate: d.cert?.ref, ...(d.copies.length ? { copies: d.copies.map((c) => c.found.ref) } : {}) },
    keyType: d.priv?.keyType ?? d.pub?.keyType ?? d.cert?.keyType ?? 'unknown',
    publicKey: d.publicKey,
    publicKeySource,
    certSubject: d.cert?.subject,
    canSign: !!d.priv && d.priv.sign !== false && !!d.publicKey,
    alwaysAuthenticate: d.priv?.alwaysAuthenticate === true,
    issues,
    problems: issues.map((i) => i.message),
  };
}
