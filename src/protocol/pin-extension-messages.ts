// Our private agent extensions (OpenSSH PROTOCOL.agent: SSH_AGENTC_EXTENSION with a name in
// the vendor's domain), sent by `tt-agent unlock` and `tt-agent forget-pin`:
//
//   byte    SSH_AGENTC_EXTENSION (27)
//   string  "unlock-token@tt-agent"
//   string  token selector (label, serial or pkcs11: URI; empty: the only token waiting for a PIN)
//   string  pin
//   bool    remember (also store the PIN in the OS keyring)
//
//   byte    SSH_AGENTC_EXTENSION (27)
//   string  "forget-pin@tt-agent"
//   string  token selector (empty: every token)
//   bool    keyring (also delete the remembered PIN from the OS keyring)
//
// The agent answers SSH_AGENT_SUCCESS (6) or SSH_AGENT_FAILURE (5), as for other requests.
// Pure: no I/O.
import { SshReader, SshWriter, WireError } from './wire';

export const UNLOCK_EXTENSION = 'unlock-token@tt-agent';
export const FORGET_PIN_EXTENSION = 'forget-pin@tt-agent';
const SSH_AGENTC_EXTENSION = 27;
/** PKCS#11 tokens report ulMaxPinLen; nothing real is near this. */
const MAX_PIN_BYTES = 256;

export interface UnlockRequest {
  selector: string;
  pin: Buffer;
  remember: boolean;
}

export interface ForgetPinRequest {
  selector: string;
  keyring: boolean;
}

/** The whole request body (without the 4-byte frame length). The caller zeroes it after sending. */
export function encodeUnlockRequest(req: UnlockRequest): Buffer {
  return new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(UNLOCK_EXTENSION).string(req.selector).string(req.pin).bool(req.remember).toBuffer();
}

/**
 * Decodes the extension body after the name. The PIN is copied into a fresh Buffer and its
 * bytes in `body` are overwritten with zeros, so the request buffer does not keep it.
 */
export function decodeUnlockBody(body: Buffer): UnlockRequest {
  const r = new SshReader(body);
  const selector = r.stringUtf8('token selector');
  const raw = r.string('pin');
  const remember = r.bool();
  r.expectEnd('unlock-token@tt-agent');
  if (raw.length === 0 || raw.length > MAX_PIN_BYTES) {
    raw.fill(0);
    throw new WireError(`unlock-token@tt-agent with a PIN of ${raw.length} bytes`);
  }
  const pin = Buffer.from(raw);
  raw.fill(0);
  return { selector, pin, remember };
}

export function encodeForgetPinRequest(req: ForgetPinRequest): Buffer {
  return new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(FORGET_PIN_EXTENSION).string(req.selector).bool(req.keyring).toBuffer();
}

export function decodeForgetPinBody(body: Buffer): ForgetPinRequest {
  const r = new SshReader(body);
  const selector = r.stringUtf8('token selector');
  const keyring = r.bool();
  r.expectEnd('forget-pin@tt-agent');
  return { selector, keyring };
}
