// One request in, one reply out. Decoding, the lock gate and the handler table live here;
// each handler runs one straight path and throws AgentRefusal to decline. The client gets
// a bare SSH_AGENT_FAILURE and the reason goes to the log, as in OpenSSH's process_message.
import { decodeRequest, type AgentRequest } from '../protocol/agent-requests';
import { encodeExtensionFailure, encodeFailure, encodeIdentitiesAnswer } from '../protocol/agent-responses';
import { messageName } from '../protocol/message-numbers';
import type { RequestContext, RequestOf } from './context';
import { ExtensionFailure } from './extension-failure';
import { extension } from './handle-extension';
import { addIdentity, removeAllIdentities, removeIdentity, requestIdentities } from './handle-identities';
import { lockAgent, unlockAgent } from './handle-lock';
import { signRequest } from './handle-sign';
import { addSmartcardKey, removeSmartcardKey } from './handle-smartcard';
import { hintOf } from '../hint';
import { AgentRefusal, describeError, withHint } from './refusal';
import { STATUS_EXTENSION } from './status';
import { answersWhileLocked, forbidden, noteBindAttempt } from './trust';

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

// SSH_AGENTC_REQUEST_RSA_IDENTITIES and SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES (protocol 1).
const SSH1_REQUESTS = new Set([1, 9]);

/** Never throws: every outcome is a reply body. */
export async function dispatch(body: Buffer, ctx: RequestContext): Promise<Buffer> {
  const code = body[0];
  try {
    return await handle(body, ctx);
  } catch (err) {
    const name = messageName(code);
    if (err instanceof AgentRefusal) ctx.core.log(err.level, `${name} refused: ${withHint(err.message, err.hint)}`);
    else ctx.core.log('error', `${name} failed: ${withHint(describeError(err), hintOf(err))}`);
    return err instanceof ExtensionFailure ? encodeExtensionFailure() : encodeFailure();
  } finally {
    // A PIN, passphrase or private key may sit in any request, refused ones included (an
    // unlock-token@tt-agent sent while locked): every body is wiped once answered. Handlers
    // copy what they keep.
    body.fill(0);
  }
}

async function handle(body: Buffer, ctx: RequestContext): Promise<Buffer> {
  noteBindAttempt(body, ctx.conn);
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
  const notAllowed = forbidden(req, ctx.conn, ctx.core.config.allowRemoteProviders);
  if (notAllowed) {
    // A remote host trying to load a module is worth showing in `tt-agent status`.
    if ('readerId' in req && req.type !== 'SSH_AGENTC_REMOVE_SMARTCARD_KEY') ctx.core.recordRefusal({ requested: req.readerId.slice(0, 512), reason: notAllowed });
    throw new AgentRefusal(notAllowed);
  }
  if (ctx.core.lock.locked && !answersWhileLocked(req, STATUS_EXTENSION)) {
    // OpenSSH behaves the same: a locked agent lists nothing and does nothing else.
    if (req.type === 'SSH_AGENTC_REQUEST_IDENTITIES') return encodeIdentitiesAnswer([]);
    throw new AgentRefusal('agent is locked', 'info');
  }
  return (HANDLERS[req.type] as Handler<typeof req.type>)(req as never, ctx);
}
