// SSH_AGENTC_EXTENSION payloads (RFC 9987 section 5.8, OpenSSH PROTOCOL.agent section 1).
// The body after the name is raw (OpenSSH does not wrap it in another string).
import { SshReader, SshWriter, WireError } from './wire';

export const EXTENSION_QUERY = 'query';
export const SESSION_BIND = 'session-bind@openssh.com';

// OpenSSH refuses longer session identifiers (AGENT_MAX_SID_LEN); hashes are at most 64 bytes.
const MAX_SESSION_ID = 128;

export type AgentExtension =
  | { kind: 'query' }
  | {
      kind: 'session-bind';
      /** Host key blob of the server the client connected to. */
      hostKey: Buffer;
      /** Exchange hash H of the first key exchange (RFC 4253 section 7.2). */
      sessionId: Buffer;
      /** The server's signature over sessionId, as sent in its KEX reply. */
      signature: Buffer;
      /** True when this connection is a forwarded agent channel, not the user's own ssh. */
      isForwarding: boolean;
    }
  /** A known extension whose body does not parse: the agent answers SSH_AGENT_EXTENSION_FAILURE. */
  | { kind: 'malformed'; name: string; reason: string }
  | { kind: 'other'; name: string; body: Buffer };

export function readExtension(r: SshReader): AgentExtension {
  const name = r.stringUtf8('extension name');
  if (name === EXTENSION_QUERY) {
    if (!r.atEnd) return { kind: 'malformed', name, reason: `${r.rest().length} unexpected bytes after query` };
    return { kind: 'query' };
  }
  if (name === SESSION_BIND) {
    // A malformed body is still a request for a known extension, which fails as such
    // (OpenSSH's process_extension), not a malformed message.
    const body = r.rest();
    try {
      return readSessionBind(new SshReader(body));
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      return { kind: 'malformed', name, reason: err.message };
    }
  }
  return { kind: 'other', name, body: r.rest() };
}

// string hostkey / string session_identifier / string signature / bool is_forwarding
function readSessionBind(r: SshReader): AgentExtension {
  const hostKey = r.string('session-bind host key');
  const sessionId = r.string('session-bind session identifier');
  const signature = r.string('session-bind signature');
  const isForwarding = r.bool();
  r.expectEnd('session-bind extension');
  if (sessionId.length === 0 || sessionId.length > MAX_SESSION_ID) {
    throw new WireError(`session-bind session identifier of ${sessionId.length} bytes`);
  }
  return { kind: 'session-bind', hostKey, sessionId, signature, isForwarding };
}

export function writeExtension(w: SshWriter, ext: AgentExtension): SshWriter {
  switch (ext.kind) {
    case 'query':
      return w.string(EXTENSION_QUERY);
    case 'session-bind':
      return w.string(SESSION_BIND).string(ext.hostKey).string(ext.sessionId).string(ext.signature).bool(ext.isForwarding);
    case 'other':
      return w.string(ext.name).raw(ext.body);
    case 'malformed':
      throw new WireError(`cannot encode a malformed ${ext.name}`);
  }
}

/**
 * Body of the reply to "query" after SSH_AGENT_EXTENSION_RESPONSE / string "query":
 * one string per supported extension name.
 */
export function encodeQueryNames(names: readonly string[]): Buffer {
  const w = new SshWriter();
  for (const n of names) w.string(n);
  return w.toBuffer();
}

export function decodeQueryNames(body: Buffer): string[] {
  const r = new SshReader(body);
  const names: string[] = [];
  while (!r.atEnd) names.push(r.stringUtf8('extension name'));
  return names;
}
