// The agent's side of unlock-token@tt-agent and forget-pin@tt-agent: decode, act on the PIN
// broker, answer. Kept here so the agent's extension switch needs one call:
//   const reply = await handlePinExtension(broker, ext.name, ext.body); if (reply) return reply;
//
// Reply: byte SSH_AGENT_EXTENSION_RESPONSE (29) / string extension name / bool ok /
// string message (one line for the user). An agent without these extensions answers
// SSH_AGENT_FAILURE, which the client reports as "not supported".
import { SshReader, SshWriter } from '../protocol/wire';
import type { ForgetResult, PinBroker } from './broker';
import { describeToken } from './token-ref';
import { decodeForgetPinBody, decodeUnlockBody, FORGET_PIN_EXTENSION, UNLOCK_EXTENSION } from '../protocol/pin-extension-messages';

const SSH_AGENT_EXTENSION_RESPONSE = 29;


export function encodePinReply(name: string, ok: boolean, message: string): Buffer {
  return new SshWriter().uint8(SSH_AGENT_EXTENSION_RESPONSE).string(name).bool(ok).string(message).toBuffer();
}

/** null when the agent does not know the extension (SSH_AGENT_FAILURE or another reply). */
export function decodePinReply(reply: Buffer, name: string): { ok: boolean; message: string } | null {
  try {
    const r = new SshReader(reply);
    if (r.uint8() !== SSH_AGENT_EXTENSION_RESPONSE || r.stringUtf8() !== name) return null;
    const ok = r.bool();
    const message = r.stringUtf8('message', true);
    return { ok, message };
  } catch {
    return null;
  }
}

/** The reply to one of our PIN extensions, or null when `name` is not one of them. Throws WireError on a malformed body. */
export async function handlePinExtension(broker: PinBroker, name: string, body: Buffer): Promise<Buffer | null> {
  if (name === UNLOCK_EXTENSION) {
    const req = decodeUnlockBody(body);
    const token = broker.findToken(req.selector);
    if (!token) {
      req.pin.fill(0);
      const what = req.selector ? `no token matching "${req.selector}"` : 'no single token waiting for a PIN';
      return encodePinReply(name, false, `${what} is known to the agent; name one (label, serial or pkcs11: URI) after tt-agent add`);
    }
    const result = await broker.supply(token, req.pin, { remember: req.remember });
    let message = `PIN handed to the agent for token ${describeToken(token)}`;
    if (req.remember) message += result.remembered ? '; remembered in the OS keyring' : `; not remembered (${result.error})`;
    return encodePinReply(name, !req.remember || result.remembered, message);
  }
  if (name === FORGET_PIN_EXTENSION) {
    const req = decodeForgetPinBody(body);
    const results = await broker.forgetSelected(req.selector, { keyring: req.keyring });
    if (results.length === 0 && req.selector) return encodePinReply(name, false, `no token matching "${req.selector}" is known to the agent`);
    if (results.length === 0) return encodePinReply(name, true, 'no PIN was held: the agent knows no token yet');
    return encodePinReply(name, true, results.map(describeForgotten).join('; '));
  }
  return null;
}

/** Where the PIN of one token was forgotten, or that there was none to forget. */
function describeForgotten(r: ForgetResult): string {
  const who = `token ${describeToken(r.token)}`;
  if (r.held && r.remembered) return `forgot the PIN of ${who}: dropped from the agent's memory and removed from the OS keyring`;
  if (r.held) return `forgot the PIN of ${who}: dropped from the agent's memory`;
  if (r.remembered) return `forgot the PIN of ${who}: removed from the OS keyring`;
  return `the agent held no PIN for ${who}`;
}
