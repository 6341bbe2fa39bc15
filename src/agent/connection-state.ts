// What the agent knows about one client connection: the session-bind@openssh.com records
// `ssh` sent on it (one per hop; OpenSSH PROTOCOL.agent "session-bind extension").
import type { SshCertificate } from '../protocol/certificate';
import type { PublicKey } from '../protocol/public-key';

export interface SessionBind {
  hostKeyBlob: Buffer;
  /** The key that signed the session: the host key, or the key a host certificate certifies. */
  hostKey: PublicKey;
  /** Set when the server presented a host certificate (matched against is_ca keyspecs). */
  hostCert?: SshCertificate;
  sessionId: Buffer;
  isForwarding: boolean;
}

export interface ConnectionState {
  readonly id: number;
  /** The client as the kernel named it at connect() (SO_PEERCRED); absent without the native addon. */
  readonly peer?: { pid: number; uid: number };
  readonly binds: SessionBind[];
  /** Set by any session-bind attempt, even a failed one: a failed bind must not look like local use. */
  bindAttempted: boolean;
}

// OpenSSH's agent keeps at most 16 bindings per connection (AGENT_MAX_SESSION_IDS).
export const MAX_SESSION_BINDS = 16;

export function newConnectionState(id: number, peer?: { pid: number; uid: number }): ConnectionState {
  return { id, binds: [], bindAttempted: false, ...(peer ? { peer } : {}) };
}
