// SSH_AGENTC_EXTENSION: "query", "session-bind@openssh.com" (OpenSSH PROTOCOL.agent; `ssh`
// sends it on every connection to the agent, before it authenticates) and our own
// "status@tt-agent", which lets `tt-agent` recognise a live tt-agent and report on it.
import { encodeExtensionResponse, encodeQueryResponse, encodeSuccess } from '../protocol/agent-responses';
import { EXTENSION_QUERY, SESSION_BIND, type AgentExtension } from '../protocol/extensions';
import { verifySshSignature } from '../protocol/verify';
import { SshReader, SshWriter } from '../protocol/wire';
import type { RequestContext, RequestOf } from './context';
import { asKnownExtension, ExtensionFailure } from './extension-failure';
import { decodeBoundHostKey } from './host-key';
import { AgentRefusal, describeError } from './refusal';
import { MAX_SESSION_BINDS } from './connection-state';
import { agentStatus, STATUS_EXTENSION } from './status';
import { PIN_EXTENSION_NAMES, pinExtension } from './pin-commands';
import { ADD_SMARTCARD_EXTENSION, addSmartcardWithReason } from './handle-add-reason';

type ExtensionHandler = (body: Buffer, ctx: RequestContext) => Buffer | Promise<Buffer>;

/** Our own extensions (name@tt-agent), by name; add one here and `query` lists it. */
const PRIVATE_EXTENSIONS: Record<string, ExtensionHandler> = {
  [STATUS_EXTENSION]: status,
  ...Object.fromEntries(PIN_EXTENSION_NAMES.map((name) => [name, pinExtension(name)])),
  [ADD_SMARTCARD_EXTENSION]: addSmartcardWithReason,
};

export const SUPPORTED_EXTENSIONS = [EXTENSION_QUERY, SESSION_BIND, ...Object.keys(PRIVATE_EXTENSIONS)];

export async function extension(req: RequestOf<'SSH_AGENTC_EXTENSION'>, ctx: RequestContext): Promise<Buffer> {
  const ext = req.extension;
  switch (ext.kind) {
    case 'query':
      return encodeQueryResponse(SUPPORTED_EXTENSIONS);
    case 'session-bind':
      return asKnownExtension(() => sessionBind(ext, ctx));
    case 'malformed':
      // Even an unparsable bind makes the connection a bound one (OpenSSH: session_bind_attempted).
      if (ext.name === SESSION_BIND) ctx.conn.bindAttempted = true;
      throw new ExtensionFailure(`malformed ${ext.name}: ${ext.reason}`);
    case 'other': {
      const handler = Object.hasOwn(PRIVATE_EXTENSIONS, ext.name) ? PRIVATE_EXTENSIONS[ext.name] : undefined;
      if (handler) return asKnownExtension(() => handler(ext.body, ctx));
      throw new AgentRefusal(`unsupported extension ${JSON.stringify(ext.name.slice(0, 64))}`, 'debug');
    }
  }
}

function sessionBind(ext: Extract<AgentExtension, { kind: 'session-bind' }>, { core, conn }: RequestContext): Buffer {
  // Recorded before any check: a failed bind must leave the connection unusable for
  // destination-restricted keys rather than looking like local use.
  conn.bindAttempted = true;
  let hostKey, hostCert;
  try {
    ({ hostKey, hostCert } = decodeBoundHostKey(Buffer.from(ext.hostKey)));
  } catch (err) {
    throw new AgentRefusal(`session-bind with an unusable host key: ${describeError(err)}`);
  }
  let valid = false;
  try {
    valid = verifySshSignature(hostKey, ext.signature, ext.sessionId);
  } catch (err) {
    throw new AgentRefusal(`session-bind signature malformed: ${describeError(err)}`);
  }
  if (!valid) throw new AgentRefusal('session-bind signature does not verify with the host key');

  for (const b of conn.binds) {
    if (!b.isForwarding) throw new AgentRefusal('session-bind after a binding for authentication on the same connection');
    const sidMatch = b.sessionId.equals(ext.sessionId);
    if (sidMatch && b.hostKeyBlob.equals(ext.hostKey)) return encodeSuccess(); // already recorded
    if (sidMatch) throw new AgentRefusal('session-bind: session id already bound to a different host key');
  }
  if (conn.binds.length >= MAX_SESSION_BINDS) throw new AgentRefusal(`more than ${MAX_SESSION_BINDS} session binds on one connection`);
  conn.binds.push({
    hostKeyBlob: Buffer.from(ext.hostKey),
    hostKey,
    hostCert,
    sessionId: Buffer.from(ext.sessionId),
    isForwarding: ext.isForwarding,
  });
  core.log('debug', `connection ${conn.id}: session bound (hop ${conn.binds.length}${ext.isForwarding ? ', forwarding' : ''})`);
  return encodeSuccess();
}

async function status(body: Buffer, { core }: RequestContext): Promise<Buffer> {
  // Only local connections get here (trust.ts). A locked agent says so and nothing else: no
  // key, token, serial or module of a locked agent is anyone's business.
  if (core.lock.locked) return statusReply({ agent: 'tt-agent', locked: true });
  // Optional body: string detail. "full" also asks each provider (may take a moment);
  // without it the answer is immediate, which `eval $(tt-agent)` relies on.
  let full = false;
  if (body.length > 0) {
    try {
      full = new SshReader(body).stringUtf8('status detail') === 'full';
    } catch (err) {
      throw new AgentRefusal(`${STATUS_EXTENSION} with a malformed detail: ${describeError(err)}`);
    }
  }
  return statusReply(await agentStatus(core, full));
}

function statusReply(value: object): Buffer {
  return encodeExtensionResponse(STATUS_EXTENSION, new SshWriter().string(JSON.stringify(value)).toBuffer());
}
