// Who may ask what, decided in one place for every request (docs/threat-model.md).
//
// A connection is "bound" once it has sent session-bind@openssh.com at all — `ssh`'s own
// login connection, or a channel forwarded to a remote host — even when that bind failed
// (a bad signature, a host key type we cannot read): a failure must never make a remote
// connection look local. This is OpenSSH's socket_is_remote(). A bound connection may list
// and sign within each key's constraints and nothing else: no adding or removing keys, no
// module loads, no PINs, no keyring, no lock, no status. Another uid never gets this far
// (peer-check.ts closes it before a byte is read); module hosts have their own boundary
// (src/host).
import type { AgentRequest } from '../protocol/agent-requests';
import { SESSION_BIND } from '../protocol/extensions';
import { SSH_AGENTC_EXTENSION } from '../protocol/message-numbers';
import { SshReader } from '../protocol/wire';
import type { ConnectionState } from './connection-state';

export type Sender = 'local' | 'bound';

export function senderOf(conn: ConnectionState): Sender {
  return conn.bindAttempted || conn.binds.length > 0 ? 'bound' : 'local';
}

/** Requests a bound connection may make; everything else is the owner's local business. */
function boundMayAsk(req: AgentRequest, allowRemoteModules: boolean): boolean {
  switch (req.type) {
    case 'SSH_AGENTC_REQUEST_IDENTITIES':
    case 'SSH_AGENTC_SIGN_REQUEST':
      return true;
    case 'SSH_AGENTC_ADD_SMARTCARD_KEY':
    case 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED':
      // CVE-2023-38408: only when the owner opted in (-O allow-remote-pkcs11).
      return allowRemoteModules;
    case 'SSH_AGENTC_EXTENSION':
      return isSessionBind(req) || req.extension.kind === 'query';
    default:
      return false;
  }
}

/** Why this connection may not make this request, or undefined when it may. */
export function forbidden(req: AgentRequest, conn: ConnectionState, allowRemoteModules: boolean): string | undefined {
  if (senderOf(conn) === 'local' || boundMayAsk(req, allowRemoteModules)) return undefined;
  const how = conn.binds.some((b) => b.isForwarding) ? 'a forwarded connection' : 'a connection bound to an ssh session';
  if (req.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY' || req.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED') {
    return `refusing to load module ${JSON.stringify(req.readerId.slice(0, 512))} from ${how}`;
  }
  return `${describeRequest(req)} is not allowed on ${how} (only listing and signing are)`;
}

function describeRequest(req: AgentRequest): string {
  if (req.type !== 'SSH_AGENTC_EXTENSION') return req.type;
  const name = req.extension.kind === 'other' ? req.extension.name : req.extension.kind;
  return `extension ${JSON.stringify(name.slice(0, 64))}`;
}

/**
 * Marks the connection bound when the raw request names session-bind@openssh.com, before
 * anything else is parsed: a bind too malformed to decode still counts as an attempt.
 */
export function noteBindAttempt(body: Buffer, conn: ConnectionState): void {
  if (conn.bindAttempted || body[0] !== SSH_AGENTC_EXTENSION) return;
  try {
    const name = new SshReader(body.subarray(1)).string('extension name');
    if (name.length === SESSION_BIND.length && name.toString('latin1') === SESSION_BIND) conn.bindAttempted = true;
  } catch {
    // Not even a name: not a bind.
  }
}

/** Extensions a locked agent still processes (OpenSSH 10.5: session-bind only; ours adds a bare "locked" status). */
export function answersWhileLocked(req: AgentRequest, statusName: string): boolean {
  if (req.type === 'SSH_AGENTC_UNLOCK') return true;
  if (req.type !== 'SSH_AGENTC_EXTENSION') return false;
  return isSessionBind(req) || (req.extension.kind === 'other' && req.extension.name === statusName);
}

/** A session-bind, well-formed or not (a malformed one still fails as a known extension). */
function isSessionBind(req: Extract<AgentRequest, { type: 'SSH_AGENTC_EXTENSION' }>): boolean {
  const ext = req.extension;
  return ext.kind === 'session-bind' || (ext.kind === 'malformed' && ext.name === SESSION_BIND);
}
