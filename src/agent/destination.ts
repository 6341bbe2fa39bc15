// Enforcement of restrict-destination-v00@openssh.com (`ssh-add -h`), following the rules of
// OpenSSH's PROTOCOL.agent: every hop recorded on the connection by session-bind must be
// allowed by some constraint whose "from" is the previous hop's host key (or unset for the
// first hop) and whose "to" is this hop's host key. A connection without bindings is local
// use: keys are listed there but never sign, because a signature there could be replayed
// anywhere.
import type { DestinationConstraint, DestinationHop } from '../protocol/constraints';
import { globMatches } from '../protocol/glob';
import { SshReader } from '../protocol/wire';
import { checkHostCertificate } from './host-cert-match';
import type { ConnectionState, SessionBind } from './connection-state';

export type Verdict = { ok: true } | { ok: false; reason: string };

const SSH2_MSG_USERAUTH_REQUEST = 50;

/** Does this constraint hop name the bound host: its plain key, or (is_ca) the CA of its certificate? */
function hopHasKey(hop: DestinationHop, bound: SessionBind): boolean {
  const cert = bound.hostCert;
  if (!cert) return hop.keys.some((k) => !k.isCa && k.keyBlob.equals(bound.hostKeyBlob));
  return hop.keys.some((k) => k.isCa && k.keyBlob.equals(cert.signatureKey) && checkHostCertificate(cert, hop.hostname).ok);
}

function hopIsUnset(hop: DestinationHop): boolean {
  return hop.hostname === '' && hop.keys.length === 0;
}


/** One hop from `from` (null: the origin) to `to` (null: anywhere beyond) is allowed by some constraint. */
function hopPermitted(
  constraints: readonly DestinationConstraint[],
  from: SessionBind | null,
  to: SessionBind | null,
  user: string | null,
): boolean {
  return constraints.some((d) => {
    if (from === null ? !hopIsUnset(d.from) : !hopHasKey(d.from, from)) return false;
    if (to !== null && !hopHasKey(d.to, to)) return false;
    if (d.to.user !== '' && user !== null && !globMatches(user, d.to.user)) return false;
    return true;
  });
}

/**
 * May a destination-constrained key be used on this connection? `user` is the login name from
 * the userauth request being signed, or null when only listing identities.
 */
export function identityPermitted(
  constraints: readonly DestinationConstraint[],
  conn: ConnectionState,
  user: string | null,
): Verdict {
  if (constraints.length === 0) return { ok: true };
  if (conn.bindAttempted && conn.binds.length === 0) return { ok: false, reason: 'an earlier session-bind on this connection failed' };
  if (conn.binds.length === 0) return { ok: true };
  let from: SessionBind | null = null;
  for (let i = 0; i < conn.binds.length; i++) {
    const b = conn.binds[i];
    const last = i === conn.binds.length - 1;
    // Only the final, non-forwarding hop is the login the user name belongs to.
    const testUser = last && !b.isForwarding ? user : null;
    if (!hopPermitted(constraints, from, b, testUser)) {
      return { ok: false, reason: `hop ${i + 1} of ${conn.binds.length} is not a permitted destination` };
    }
    from = b;
  }
  // A forwarded connection only sees keys it may use for a further hop: keys allowed *to* the
  // last host but not beyond it stay hidden there.
  const lastBind = conn.binds[conn.binds.length - 1];
  if (lastBind.isForwarding && user === null && !hopPermitted(constraints, lastBind, null, null)) {
    return { ok: false, reason: 'permitted at the forwarding host but not beyond it' };
  }
  return { ok: true };
}

export interface UserauthRequest {
  sessionId: Buffer;
  user: string;
  keyBlob: Buffer;
  /** Present for publickey-hostbound-v00@openssh.com. */
  hostKeyBlob?: Buffer;
}

/**
 * The data `ssh` asks to sign for public-key authentication (RFC 4252 section 7):
 *   string session_id / byte SSH_MSG_USERAUTH_REQUEST / string user / string service
 *   string method / bool TRUE / string algorithm / string key_blob [/ string hostkey]
 * Undefined for anything else (e.g. an `ssh-keygen -Y sign` payload).
 */
export function parseUserauthRequest(data: Buffer): UserauthRequest | undefined {
  try {
    const r = new SshReader(data);
    const sessionId = r.string();
    if (r.uint8() !== SSH2_MSG_USERAUTH_REQUEST) return undefined;
    const user = r.stringUtf8();
    if (r.stringUtf8() !== 'ssh-connection') return undefined;
    const method = r.stringUtf8();
    if (!r.bool()) return undefined;
    r.string(); // algorithm
    const keyBlob = r.string();
    let hostKeyBlob: Buffer | undefined;
    if (method === 'publickey-hostbound-v00@openssh.com') hostKeyBlob = r.string();
    else if (method !== 'publickey') return undefined;
    if (!r.atEnd) return undefined;
    return { sessionId, user, keyBlob, hostKeyBlob };
  } catch {
    return undefined;
  }
}

/** The extra checks OpenSSH makes before a destination-constrained key signs. */
export function signPermitted(
  constraints: readonly DestinationConstraint[],
  conn: ConnectionState,
  keyBlob: Buffer,
  data: Buffer,
): Verdict {
  if (constraints.length === 0) return { ok: true };
  if (conn.binds.length === 0) return { ok: false, reason: 'destination-restricted key on a connection without session-bind' };
  const req = parseUserauthRequest(data);
  if (!req || !req.keyBlob.equals(keyBlob)) {
    return { ok: false, reason: 'destination-restricted key asked to sign something other than a login' };
  }
  const permitted = identityPermitted(constraints, conn, req.user);
  if (!permitted.ok) return permitted;
  const last = conn.binds[conn.binds.length - 1];
  // ssh binds the session immediately before authenticating: the signed session must be it.
  if (!req.sessionId.equals(last.sessionId)) return { ok: false, reason: 'signed session id is not the last bound one' };
  if (conn.binds.length > 1 && !req.hostKeyBlob) {
    return { ok: false, reason: 'forwarded login without a host key in the request' };
  }
  if (req.hostKeyBlob && !req.hostKeyBlob.equals(last.hostKeyBlob)) {
    return { ok: false, reason: 'host key in the request differs from the last bound host key' };
  }
  // The last bind is a forwarded channel, not a login: a host on the path may not sign its
  // own logins with a key restricted to hosts beyond it (OpenSSH's process_sign_request).
  if (last.isForwarding) return { ok: false, reason: 'tried to sign on forwarding hop' };
  return { ok: true };
}
