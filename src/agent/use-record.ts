// One use of a key, as the use log keeps it: what was signed (classified from the data), for
// whom (the login's user and host, or the SSHSIG namespace), through which hops, asked by
// which process, and the outcome. Holds no signed data, no signature, nothing secret.
import { peekKeyType } from '../protocol/key-blob';
import { classifySignedData, type SignedData, type SignedDataKind } from '../protocol/signed-data';
import { cachedFingerprint } from './fingerprint-cache';
import type { HostNames } from './host-names';
import { describeRequester, readRequesterChain, type RequesterProcess } from './requester';
import type { ConnectionState } from './connection-state';
import type { UseConfig } from './use-config';

export interface UseHost {
  fingerprint: string;
  /** Plain known_hosts names of its key; empty when none gives one. */
  names: string[];
}

export interface KeyUse {
  at: string;
  outcome: 'signed' | 'refused';
  /** Why it was refused (the same sentence as the agent log). */
  reason?: string;
  key: { type: string; fingerprint: string; comment?: string };
  class: SignedDataKind;
  /** ssh-login: the login name and the server it was for. */
  user?: string;
  destination?: UseHost & { from: 'session-bind' | 'request' };
  /** sshsig: the namespace (git, file, ...) and hash. */
  namespace?: string;
  hashAlgorithm?: string;
  /** other: how many bytes. */
  length?: number;
  /** The hosts a forwarded agent connection came through, nearest first. Empty: local. */
  forwardedVia: UseHost[];
  /** A forwarded connection, or one whose session-bind failed: not the user's own machine. */
  forwarded: boolean;
  requester: { pid?: number; chain: RequesterProcess[] };
  connection: number;
  confirmation?: 'asked' | 'remembered';
}

export interface UseContext {
  config: UseConfig;
  hostNames: HostNames;
  knownHostsFiles: string[];
}

/** The request classified, with the pieces of the connection that tell where it goes. */
export interface ClassifiedUse {
  use: KeyUse;
  data: SignedData;
  /** The configuration the use was judged and recorded by. */
  config: UseConfig;
  /** The host key a login is for, when one is known (for remembering a confirmation). */
  destinationKey?: Buffer;
}

const requesters = new WeakMap<ConnectionState, RequesterProcess[]>();

/** `keyBlob`: the identity's own blob when the key is in the agent (its fingerprint is cached). */
export function classifyUse(
  conn: ConnectionState,
  keyBlob: Buffer,
  comment: string | undefined,
  signedData: Buffer,
  ctx: UseContext,
): ClassifiedUse {
  const data = classifySignedData(signedData);
  const host = (blob: Buffer): UseHost => ({ fingerprint: cachedFingerprint(blob), names: ctx.hostNames.namesOf(blob, ctx.knownHostsFiles) });
  const use: KeyUse = {
    at: new Date().toISOString(),
    outcome: 'refused',
    key: { type: keyType(keyBlob), fingerprint: cachedFingerprint(keyBlob), ...(comment !== undefined ? { comment } : {}) },
    class: data.kind,
    forwardedVia: conn.binds.filter((b) => b.isForwarding).map((b) => host(b.hostKeyBlob)),
    forwarded: conn.binds.some((b) => b.isForwarding) || (conn.bindAttempted && conn.binds.length === 0),
    requester: { pid: conn.peer?.pid, chain: requesterOf(conn) },
    connection: conn.id,
  };
  let destinationKey: Buffer | undefined;
  if (data.kind === 'ssh-login') {
    use.user = data.user;
    // The bound session is the host's own word (signed with its key); the hostbound request's
    // host key is only what the client says.
    const bound = conn.binds.find((b) => !b.isForwarding && b.sessionId.equals(data.sessionId));
    destinationKey = bound?.hostKeyBlob ?? data.hostKeyBlob;
    if (destinationKey) use.destination = { ...host(destinationKey), from: bound ? 'session-bind' : 'request' };
  } else if (data.kind === 'sshsig') {
    use.namespace = data.namespace;
    use.hashAlgorithm = data.hashAlgorithm;
  } else {
    use.length = data.length;
  }
  return { use, data, config: ctx.config, destinationKey };
}

function requesterOf(conn: ConnectionState): RequesterProcess[] {
  if (!conn.peer) return [];
  let chain = requesters.get(conn);
  if (!chain) {
    chain = readRequesterChain(conn.peer.pid, conn.peer.uid);
    requesters.set(conn, chain);
  }
  return chain;
}

function keyType(blob: Buffer): string {
  try {
    return peekKeyType(blob);
  } catch {
    return 'unknown';
  }
}

function hostText(h: UseHost): string {
  return h.names.length > 0 ? `${h.names[0]} (${h.fingerprint})` : h.fingerprint;
}

/** Where a use went, in a few words: `root@host (SHA256:...)`, `namespace git`, `1234 bytes`. */
export function describeTarget(u: KeyUse): string {
  switch (u.class) {
    case 'ssh-login':
      return `${u.user}@${u.destination ? hostText(u.destination) : 'unknown host'}`;
    case 'sshsig':
      return `namespace ${u.namespace} (${u.hashAlgorithm})`;
    default:
      return `${u.length} bytes of unrecognised data`;
  }
}

export function describeVia(u: KeyUse): string {
  if (u.forwardedVia.length > 0) return `forwarded via ${u.forwardedVia.map(hostText).join(', ')}`;
  return u.forwarded ? 'on a connection whose session-bind failed' : 'local';
}

export function describeKey(u: KeyUse): string {
  return `${u.key.type} ${u.key.fingerprint}${u.key.comment !== undefined ? ` ${JSON.stringify(u.key.comment)}` : ''}`;
}

/** The use log's line: `signed ssh-login root@host (SHA256:..) with KEY, local, by ssh ... (42)`. */
export function describeUse(u: KeyUse): string {
  const confirmed = u.confirmation ? `, ${u.confirmation === 'asked' ? 'confirmed' : 'confirmation remembered'}` : '';
  const head = `${u.outcome} ${u.class} ${describeTarget(u)} with ${describeKey(u)}, ${describeVia(u)}${confirmed}, by ${describeRequester(u.requester.chain, u.requester.pid)}`;
  return u.outcome === 'refused' && u.reason ? `${head}: ${u.reason}` : head;
}
