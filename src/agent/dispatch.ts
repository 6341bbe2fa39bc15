// One request in, one reply out. Decoding, the lock gate and the handler table live here;
// each handler runs one straight path and throws AgentRefusal to decline. The client gets
// a bare SSH_AGENT_FAILURE and the reason goes to the log, as in OpenSSH's process_message.
import { decodeRequest, type AgentRequest } from '../protocol/agent-requests';
import { SESSION_BIND } from '../protocol/extensions';
import { encodeExtensionFailure, encodeFailure, encodeIdentitiesAnswer } from '../protocol/agent-responses';
import {
  messageName,
  SSH_AGENTC_ADD_ID_CONSTRAINED,
  SSH_AGENTC_ADD_IDENTITY,
  SSH_AGENTC_ADD_SMARTCARD_KEY,
  SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED,
  SSH_AGENTC_LOCK,
  SSH_AGENTC_REMOVE_SMARTCARD_KEY,
  SSH_AGENTC_UNLOCK,
} from '../protocol/message-numbers';
import type { RequestContext, RequestOf } from './context';
import { ExtensionFailure } from './extension-failure';
import { extension } from './handle-extension';
import { addIdentity, removeAllIdentities, removeIdentity, requestIdentities } from './handle-identities';
import { lockAgent, unlockAgent } from './handle-lock';
import { signRequest } from './handle-sign';
import { addSmartcardKey, removeSmartcardKey } from './handle-smartcard';
import { AgentRefusal, describeError } from './refusal';
import { STATUS_EXTENSION } from './status';

type Handled = Exclude<AgentRequest['type'], 'unknown' | 'unsupported'>;
type Handler<T extends Handled> = (req: RequestOf<T>, ctx: RequestContext) => Buffer | Promise<Buffer>;

const HANDLERS: { [T in Handled]: Handler<T> } = {
  SSH_AGENTC_REQUEST_IDENTITIES: requestIdentities,
  SSH_AGENTC_SIGN_REQUEST: signRequest,
  SSH_AGENTC_ADD_IDENTITY: addIdentity,
  SSH_AGENTC_ADD_ID_CONSTRAINED: addIdentity,
  SSH_AGENTC_REMOVE_IDENTITY: removeIdentity,
  SSH_AGENTC_REMOVE_ALL_IDENTITIES: removeAllIdentities,
  SSH_AGENTC_ADD_SMARTCARD_KEY: addSmartcardKey,
  SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED: addSmartcardKey,
  SSH_AGENTC_REMOVE_SMARTCARD_KEY: removeSmartcardKey,
  SSH_AGENTC_LOCK: lockAgent,
  SSH_AGENTC_UNLOCK: unlockAgent,
  SSH_AGENTC_EXTENSION: extension,
};

// Requests that carry a PIN, passphrase or private key: their body is wiped once answered.
const SECRET_BEARING = new Set<number>([
  SSH_AGENTC_ADD_IDENTITY,
  SSH_AGENTC_ADD_SMARTCARD_KEY,
  SSH_AGENTC_REMOVE_SMARTCARD_KEY,
  SSH_AGENTC_LOCK,
  SSH_AGENTC_UNLOCK,
  SSH_AGENTC_ADD_ID_CONSTRAINED,
  SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED,
]);

// SSH_AGENTC_REQUEST_RSA_IDENTITIES and SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES (protocol 1).
const SSH1_REQUESTS = new Set([1, 9]);

/** Never throws: every outcome is a reply body. */
export async function dispatch(body: Buffer, ctx: RequestContext): Promise<Buffer> {
  const code = body[0];
  try {
    return await handle(body, ctx);
  } catch (err) {
    const name = messageName(code);
    if (err instanceof AgentRefusal) ctx.core.log(err.level, `${name} refused: ${err.message}`);
    else ctx.core.log('error', `${name} failed: ${describeError(err)}`);
    return err instanceof ExtensionFailure ? encodeExtensionFailure() : encodeFailure();
  } finally {
    if (SECRET_BEARING.has(code)) body.fill(0);
  }
}

async function handle(body: Buffer, ctx: RequestContext): Promise<Buffer> {
  let req: AgentRequest;
  try {
    req = decodeRequest(body);
  } catch (err) {
    throw new AgentRefusal(`malformed request (${body.length} bytes): ${describeError(err)}`);
  }
  if (req.type === 'unknown') {
    // ssh-add -D still sends the SSH protocol 1 "remove all" (9) first; not worth a log line.
    throw new AgentRefusal(`unknown message type ${req.code}`, SSH1_REQUESTS.has(req.code) ? 'debug' : 'info');
  }
  if (req.type === 'unsupported') throw new AgentRefusal(req.reason, 'info');
  if (ctx.core.lock.locked && req.type !== 'SSH_AGENTC_UNLOCK' && !answersWhileLocked(req)) {
    // OpenSSH behaves the same: a locked agent lists nothing and does nothing else.
    if (req.type === 'SSH_AGENTC_REQUEST_IDENTITIES') return encodeIdentitiesAnswer([]);
    throw new AgentRefusal('agent is locked', 'info');
  }
  return (HANDLERS[req.type] as Handler<typeof req.type>)(req as never, ctx);
}

/**
 * `query` and status@tt-agent reveal no keys, and `tt-agent` must still recognise a locked agent.
 * session-bind@openssh.com is processed while locked too (as OpenSSH 10 does): refused, it
 * would leave a forwarded connection looking like local use once the agent is unlocked.
 */
function answersWhileLocked(req: AgentRequest): boolean {
  if (req.type !== 'SSH_AGENTC_EXTENSION') return false;
  const ext = req.extension;
  if (ext.kind === 'session-bind' || (ext.kind === 'malformed' && ext.name === SESSION_BIND)) return true;
  return ext.kind === 'query' || (ext.kind === 'other' && ext.name === STATUS_EXTENSION);
}
