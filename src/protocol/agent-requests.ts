// Requests from client to agent (RFC 9987 section 5, OpenSSH PROTOCOL.agent), both ways:
// `decodeRequest` for the agent, `encodeRequest` for our own client and for tests.
// Bodies here exclude the uint32 length prefix (see framing.ts).
import { readConstraints, writeConstraints, type KeyConstraint } from './constraints';
import { readExtension, writeExtension, type AgentExtension } from './extensions';
import {
  SSH_AGENTC_ADD_IDENTITY,
  SSH_AGENTC_ADD_ID_CONSTRAINED,
  SSH_AGENTC_ADD_SMARTCARD_KEY,
  SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED,
  SSH_AGENTC_EXTENSION,
  SSH_AGENTC_LOCK,
  SSH_AGENTC_REMOVE_ALL_IDENTITIES,
  SSH_AGENTC_REMOVE_IDENTITY,
  SSH_AGENTC_REMOVE_SMARTCARD_KEY,
  SSH_AGENTC_REQUEST_IDENTITIES,
  SSH_AGENTC_SIGN_REQUEST,
  SSH_AGENTC_UNLOCK,
} from './message-numbers';
import type { JsonWebKey } from 'node:crypto';
import type { SshCertificate } from './certificate';
import { readPrivateKey, UnsupportedKeyTypeError, writePrivateKey, type PrivateKeyMaterial } from './private-key';
import { SshReader, SshWriter, WireError } from './wire';

interface AddIdentityFields {
  key: PrivateKeyMaterial;
  /** Always empty for SSH_AGENTC_ADD_IDENTITY; present on both so one handler serves both. */
  constraints: KeyConstraint[];
}

interface SmartcardFields {
  /** The PKCS#11 module path (or URI) the client names. */
  readerId: string;
  /** Raw PIN bytes, a view into the message: zero it (or the body) after use. */
  pin: Buffer;
  constraints: KeyConstraint[];
}

export type AgentRequest =
  | { type: 'SSH_AGENTC_REQUEST_IDENTITIES' }
  | { type: 'SSH_AGENTC_SIGN_REQUEST'; keyBlob: Buffer; data: Buffer; flags: number }
  | ({ type: 'SSH_AGENTC_ADD_IDENTITY' } & AddIdentityFields)
  | ({ type: 'SSH_AGENTC_ADD_ID_CONSTRAINED' } & AddIdentityFields)
  | { type: 'SSH_AGENTC_REMOVE_IDENTITY'; keyBlob: Buffer }
  | { type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' }
  | ({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY' } & SmartcardFields)
  | ({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED' } & SmartcardFields)
  | { type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY'; readerId: string; pin: Buffer }
  /** Passphrase bytes are a view into the message: zero them after use. */
  | { type: 'SSH_AGENTC_LOCK'; passphrase: Buffer }
  | { type: 'SSH_AGENTC_UNLOCK'; passphrase: Buffer }
  | { type: 'SSH_AGENTC_EXTENSION'; extension: AgentExtension }
  /** Well-formed request the agent cannot serve, e.g. a key type it does not know in ADD_IDENTITY. */
  | { type: 'unsupported'; code: number; reason: string }
  /** A message number this protocol does not define; the agent answers SSH_AGENT_FAILURE. */
  | { type: 'unknown'; code: number };

/** What a client hands to `encodeRequest` for ADD_IDENTITY: the private key as JWK. */
export interface PrivateKeyInput {
  jwk: JsonWebKey;
  comment: string;
  /** A certificate (blob or decoded) for this key: the key is then added as that certificate. */
  certificate?: Buffer | SshCertificate;
}

export type AgentRequestInput =
  | Exclude<AgentRequest, { type: 'SSH_AGENTC_ADD_IDENTITY' | 'SSH_AGENTC_ADD_ID_CONSTRAINED' | 'unsupported' }>
  | { type: 'SSH_AGENTC_ADD_IDENTITY' | 'SSH_AGENTC_ADD_ID_CONSTRAINED'; key: PrivateKeyInput; constraints: KeyConstraint[] };

/** The request variant of one message type, e.g. `RequestOf<'SSH_AGENTC_SIGN_REQUEST'>`. */
export type RequestOf<T extends AgentRequest['type']> = Extract<AgentRequest, { type: T }>;

/**
 * Decodes one request body. Malformed input throws WireError; the agent then answers
 * SSH_AGENT_FAILURE (and, for constraints it does not know, refuses the key as OpenSSH does).
 * Buffers in the result are views into `body` (public keys of ADD_IDENTITY excepted):
 * copy what you keep, and zero `body` when done, since it may carry a PIN or a private key.
 */
export function decodeRequest(body: Buffer): AgentRequest {
  const r = new SshReader(body);
  const code = r.uint8();
  let req: AgentRequest;
  switch (code) {
    // byte SSH_AGENTC_REQUEST_IDENTITIES
    case SSH_AGENTC_REQUEST_IDENTITIES:
      req = { type: 'SSH_AGENTC_REQUEST_IDENTITIES' };
      break;

    // byte SSH_AGENTC_SIGN_REQUEST / string key_blob / string data / uint32 flags
    case SSH_AGENTC_SIGN_REQUEST:
      req = { type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: r.string('key blob'), data: r.string('data'), flags: r.uint32() };
      break;

    // byte SSH_AGENTC_ADD_IDENTITY / string key_type / byte[] key_contents / string key_comment
    // byte SSH_AGENTC_ADD_ID_CONSTRAINED / (the same) / constraint[] constraints
    case SSH_AGENTC_ADD_IDENTITY:
    case SSH_AGENTC_ADD_ID_CONSTRAINED: {
      let key: PrivateKeyMaterial;
      try {
        key = readPrivateKey(r);
      } catch (e) {
        // The rest cannot be parsed without understanding the key; the request is still
        // well-formed as far as the client knows, so say precisely what is unsupported.
        if (e instanceof UnsupportedKeyTypeError) return { type: 'unsupported', code, reason: e.message };
        throw e;
      }
      req =
        code === SSH_AGENTC_ADD_ID_CONSTRAINED
          ? { type: 'SSH_AGENTC_ADD_ID_CONSTRAINED', key, constraints: readConstraints(r) }
          : { type: 'SSH_AGENTC_ADD_IDENTITY', key, constraints: [] };
      break;
    }

    // byte SSH_AGENTC_REMOVE_IDENTITY / string key_blob
    case SSH_AGENTC_REMOVE_IDENTITY:
      req = { type: 'SSH_AGENTC_REMOVE_IDENTITY', keyBlob: r.string('key blob') };
      break;

    // byte SSH_AGENTC_REMOVE_ALL_IDENTITIES
    case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
      req = { type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' };
      break;

    // byte SSH_AGENTC_ADD_SMARTCARD_KEY / string reader_id / string pin
    // byte SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED / (the same) / constraint[] constraints
    case SSH_AGENTC_ADD_SMARTCARD_KEY:
    case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED: {
      const readerId = r.stringUtf8('reader id');
      const pin = r.string('PIN');
      req =
        code === SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED
          ? { type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED', readerId, pin, constraints: readConstraints(r) }
          : { type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId, pin, constraints: [] };
      break;
    }

    // byte SSH_AGENTC_REMOVE_SMARTCARD_KEY / string reader_id / string pin
    case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
      req = { type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY', readerId: r.stringUtf8('reader id'), pin: r.string('PIN') };
      break;

    // byte SSH_AGENTC_LOCK / string passphrase   (SSH_AGENTC_UNLOCK likewise)
    case SSH_AGENTC_LOCK:
      req = { type: 'SSH_AGENTC_LOCK', passphrase: r.string('passphrase') };
      break;
    case SSH_AGENTC_UNLOCK:
      req = { type: 'SSH_AGENTC_UNLOCK', passphrase: r.string('passphrase') };
      break;

    // byte SSH_AGENTC_EXTENSION / string extension_type / byte[] contents
    case SSH_AGENTC_EXTENSION:
      req = { type: 'SSH_AGENTC_EXTENSION', extension: readExtension(r) };
      break;

    default:
      // Body skipped whole: the frame length already kept the stream in sync.
      return { type: 'unknown', code };
  }
  r.expectEnd(req.type);
  return req;
}

export function encodeRequest(req: AgentRequestInput): Buffer {
  const w = new SshWriter();
  switch (req.type) {
    case 'SSH_AGENTC_REQUEST_IDENTITIES':
      return w.uint8(SSH_AGENTC_REQUEST_IDENTITIES).toBuffer();
    case 'SSH_AGENTC_SIGN_REQUEST':
      return w.uint8(SSH_AGENTC_SIGN_REQUEST).string(req.keyBlob).string(req.data).uint32(req.flags).toBuffer();
    case 'SSH_AGENTC_ADD_IDENTITY':
    case 'SSH_AGENTC_ADD_ID_CONSTRAINED': {
      const constrained = req.type === 'SSH_AGENTC_ADD_ID_CONSTRAINED';
      if (!constrained && req.constraints.length > 0) throw new WireError('constraints need SSH_AGENTC_ADD_ID_CONSTRAINED');
      writePrivateKey(w.uint8(constrained ? SSH_AGENTC_ADD_ID_CONSTRAINED : SSH_AGENTC_ADD_IDENTITY), req.key);
      return writeConstraints(w, req.constraints).toBuffer();
    }
    case 'SSH_AGENTC_REMOVE_IDENTITY':
      return w.uint8(SSH_AGENTC_REMOVE_IDENTITY).string(req.keyBlob).toBuffer();
    case 'SSH_AGENTC_REMOVE_ALL_IDENTITIES':
      return w.uint8(SSH_AGENTC_REMOVE_ALL_IDENTITIES).toBuffer();
    case 'SSH_AGENTC_ADD_SMARTCARD_KEY':
    case 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED': {
      const constrained = req.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED';
      if (!constrained && req.constraints.length > 0) throw new WireError('constraints need SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED');
      w.uint8(constrained ? SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED : SSH_AGENTC_ADD_SMARTCARD_KEY);
      w.string(req.readerId).string(req.pin);
      return writeConstraints(w, req.constraints).toBuffer();
    }
    case 'SSH_AGENTC_REMOVE_SMARTCARD_KEY':
      return w.uint8(SSH_AGENTC_REMOVE_SMARTCARD_KEY).string(req.readerId).string(req.pin).toBuffer();
    case 'SSH_AGENTC_LOCK':
      return w.uint8(SSH_AGENTC_LOCK).string(req.passphrase).toBuffer();
    case 'SSH_AGENTC_UNLOCK':
      return w.uint8(SSH_AGENTC_UNLOCK).string(req.passphrase).toBuffer();
    case 'SSH_AGENTC_EXTENSION':
      return writeExtension(w.uint8(SSH_AGENTC_EXTENSION), req.extension).toBuffer();
    case 'unknown':
      return w.uint8(req.code).toBuffer();
  }
}

