// Replies from agent to client (RFC 9987 section 5). Encoders for the agent, `decodeResponse`
// for our own client and for tests that talk to any agent.
import {
  SSH_AGENT_EXTENSION_FAILURE,
  SSH_AGENT_EXTENSION_RESPONSE,
  SSH_AGENT_FAILURE,
  SSH_AGENT_IDENTITIES_ANSWER,
  SSH_AGENT_SIGN_RESPONSE,
  SSH_AGENT_SUCCESS,
  messageName,
} from './message-numbers';
import { EXTENSION_QUERY, decodeQueryNames, encodeQueryNames } from './extensions';
import { SshReader, SshWriter, WireError } from './wire';

export interface AgentIdentity {
  blob: Buffer;
  comment: string;
}

export type AgentResponse =
  | { type: 'SSH_AGENT_FAILURE' }
  /** `body`: bytes after the code; empty from OpenSSH, but some extensions reply this way with data. */
  | { type: 'SSH_AGENT_SUCCESS'; body: Buffer }
  | { type: 'SSH_AGENT_IDENTITIES_ANSWER'; identities: AgentIdentity[] }
  | { type: 'SSH_AGENT_SIGN_RESPONSE'; signature: Buffer }
  | { type: 'SSH_AGENT_EXTENSION_FAILURE' }
  | { type: 'SSH_AGENT_EXTENSION_RESPONSE'; name: string; body: Buffer };

// byte SSH_AGENT_FAILURE
export function encodeFailure(): Buffer {
  return Buffer.of(SSH_AGENT_FAILURE);
}

// byte SSH_AGENT_SUCCESS
export function encodeSuccess(): Buffer {
  return Buffer.of(SSH_AGENT_SUCCESS);
}

// byte SSH_AGENT_EXTENSION_FAILURE
export function encodeExtensionFailure(): Buffer {
  return Buffer.of(SSH_AGENT_EXTENSION_FAILURE);
}

// byte SSH_AGENT_IDENTITIES_ANSWER / uint32 nkeys / { string key_blob / string comment }*
export function encodeIdentitiesAnswer(identities: readonly AgentIdentity[]): Buffer {
  const w = new SshWriter().uint8(SSH_AGENT_IDENTITIES_ANSWER).uint32(identities.length);
  for (const id of identities) w.string(id.blob).string(id.comment);
  return w.toBuffer();
}

// byte SSH_AGENT_SIGN_RESPONSE / string signature
export function encodeSignResponse(signature: Buffer): Buffer {
  return new SshWriter().uint8(SSH_AGENT_SIGN_RESPONSE).string(signature).toBuffer();
}

// byte SSH_AGENT_EXTENSION_RESPONSE / string extension_type / byte[] contents
export function encodeExtensionResponse(name: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return new SshWriter().uint8(SSH_AGENT_EXTENSION_RESPONSE).string(name).raw(body).toBuffer();
}

// byte SSH_AGENT_EXTENSION_RESPONSE / string "query" / { string extension_name }*
export function encodeQueryResponse(names: readonly string[]): Buffer {
  return encodeExtensionResponse(EXTENSION_QUERY, encodeQueryNames(names));
}

export function encodeResponse(resp: AgentResponse): Buffer {
  switch (resp.type) {
    case 'SSH_AGENT_FAILURE':
      return encodeFailure();
    case 'SSH_AGENT_SUCCESS':
      return Buffer.concat([encodeSuccess(), resp.body]);
    case 'SSH_AGENT_IDENTITIES_ANSWER':
      return encodeIdentitiesAnswer(resp.identities);
    case 'SSH_AGENT_SIGN_RESPONSE':
      return encodeSignResponse(resp.signature);
    case 'SSH_AGENT_EXTENSION_FAILURE':
      return encodeExtensionFailure();
    case 'SSH_AGENT_EXTENSION_RESPONSE':
      return encodeExtensionResponse(resp.name, resp.body);
  }
}

/**
 * Decodes a reply. With `expect`, any reply other than that type or a failure
 * (SSH_AGENT_FAILURE, SSH_AGENT_EXTENSION_FAILURE) is a WireError: the stream is out of step.
 */
export function decodeResponse(body: Buffer, expect?: AgentResponse['type']): AgentResponse {
  const r = new SshReader(body);
  const code = r.uint8();
  let resp: AgentResponse;
  switch (code) {
    case SSH_AGENT_FAILURE:
      resp = { type: 'SSH_AGENT_FAILURE' };
      break;
    case SSH_AGENT_SUCCESS:
      resp = { type: 'SSH_AGENT_SUCCESS', body: r.rest() };
      break;
    case SSH_AGENT_EXTENSION_FAILURE:
      resp = { type: 'SSH_AGENT_EXTENSION_FAILURE' };
      break;
    case SSH_AGENT_IDENTITIES_ANSWER: {
      const n = r.uint32();
      // Each identity takes at least 8 bytes; refuse counts the body cannot hold before looping.
      if (n > r.remaining / 8) throw new WireError(`identities answer claims ${n} keys in ${r.remaining} bytes`);
      const identities: AgentIdentity[] = [];
      for (let i = 0; i < n; i++) {
        identities.push({ blob: r.string('key blob'), comment: r.stringUtf8('key comment', true) });
      }
      resp = { type: 'SSH_AGENT_IDENTITIES_ANSWER', identities };
      break;
    }
    case SSH_AGENT_SIGN_RESPONSE:
      resp = { type: 'SSH_AGENT_SIGN_RESPONSE', signature: r.string('signature') };
      break;
    case SSH_AGENT_EXTENSION_RESPONSE:
      resp = { type: 'SSH_AGENT_EXTENSION_RESPONSE', name: r.stringUtf8('extension name'), body: r.rest() };
      break;
    default:
      throw new WireError(`unexpected reply ${messageName(code)}`);
  }
  r.expectEnd(resp.type);
  const isFailure = resp.type === 'SSH_AGENT_FAILURE' || resp.type === 'SSH_AGENT_EXTENSION_FAILURE';
  if (expect && resp.type !== expect && !isFailure) {
    throw new WireError(`expected ${expect}, got ${resp.type}`);
  }
  return resp;
}

/**
 * Extension names from a reply to "query": SSH_AGENT_EXTENSION_RESPONSE echoing "query"
 * (RFC 9987), or SSH_AGENT_SUCCESS followed by the names as some older agents send.
 * null when the agent does not support "query".
 */
export function decodeQueryResponse(resp: AgentResponse): string[] | null {
  if (resp.type === 'SSH_AGENT_EXTENSION_RESPONSE' && resp.name === EXTENSION_QUERY) return decodeQueryNames(resp.body);
  if (resp.type === 'SSH_AGENT_SUCCESS' && resp.body.length > 0) return decodeQueryNames(resp.body);
  return null;
}
