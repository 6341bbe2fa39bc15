// add-smartcard@tt-agent: SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED as an extension, for our
// own local client. The standard message can only answer SUCCESS or FAILURE; this one says why
// a load failed, so `tt-agent add` can print the agent's reason instead of pointing at its log.
//
//   byte SSH_AGENTC_EXTENSION / string "add-smartcard@tt-agent"
//   string reader_id / string pin / constraint[] constraints   (as ADD_SMARTCARD_KEY_CONSTRAINED)
// Replies:
//   byte SSH_AGENT_SUCCESS                                       the keys were added
//   byte SSH_AGENT_EXTENSION_RESPONSE / string "add-smartcard@tt-agent" / string reason
//        [string hint]                                           refused; reason is one line, hint
//                                                                what to do next (src/hint.ts);
//                                                                an older agent sends no hint, and
//                                                                an older client reads no further
//                                                                than the reason
//   byte SSH_AGENT_FAILURE                                       refused without a reason (a
//                                                                bound connection, a locked agent)
import { readConstraints, writeConstraints, type KeyConstraint } from './constraints';
import { SSH_AGENT_EXTENSION_RESPONSE, SSH_AGENTC_EXTENSION } from './message-numbers';
import { SshReader, SshWriter } from './wire';

export const ADD_SMARTCARD_EXTENSION = 'add-smartcard@tt-agent';

export interface AddSmartcardBody {
  readerId: string;
  pin: Buffer;
  constraints: KeyConstraint[];
}

export function encodeAddSmartcardRequest(req: AddSmartcardBody): Buffer {
  const w = new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(ADD_SMARTCARD_EXTENSION).string(req.readerId).string(req.pin);
  return writeConstraints(w, req.constraints).toBuffer();
}

/** The extension's contents (after its name). Throws WireError when malformed. */
export function decodeAddSmartcardBody(body: Buffer): AddSmartcardBody {
  const r = new SshReader(body);
  const readerId = r.stringUtf8('reader id');
  const pin = r.string('PIN');
  return { readerId, pin, constraints: readConstraints(r) };
}

export interface AddSmartcardRefusal {
  reason: string;
  hint?: string;
}

export function encodeAddSmartcardRefusal(refusal: AddSmartcardRefusal): Buffer {
  const w = new SshWriter().uint8(SSH_AGENT_EXTENSION_RESPONSE).string(ADD_SMARTCARD_EXTENSION).string(refusal.reason);
  if (refusal.hint) w.string(refusal.hint);
  return w.toBuffer();
}

/** The reason (and hint, when the agent sends one) in a refusal reply, or undefined for any other reply. */
export function decodeAddSmartcardRefusal(reply: Buffer): AddSmartcardRefusal | undefined {
  try {
    const r = new SshReader(reply);
    if (r.uint8() !== SSH_AGENT_EXTENSION_RESPONSE || r.stringUtf8('extension name') !== ADD_SMARTCARD_EXTENSION) return undefined;
    const refusal: AddSmartcardRefusal = { reason: r.stringUtf8('reason', true) };
    if (r.remaining === 0) return refusal;
    // A hint that does not read is left out: the reason alone still says what went wrong.
    try {
      const hint = r.stringUtf8('hint', true);
      if (hint) refusal.hint = hint;
    } catch {
      // truncated or malformed hint
    }
    return refusal;
  } catch {
    return undefined;
  }
}
