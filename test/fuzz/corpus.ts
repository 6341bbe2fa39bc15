// Valid request bodies, encoded by the project's own protocol encoders, as seeds for the
// fuzzer: every message type the agent handles, for every key it holds (file and token).
// Module loads in the mutable corpus name modules the agent must refuse (outside the
// allowlist, missing), so that mutations never spend the test token's PIN counter.
import { generateKeyPairSync, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { encodeRequest, type AgentRequestInput, type KeyConstraint } from '../../src/protocol/agent-messages';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import type { PublicKey } from '../../src/protocol/public-key';
import { encodeSshSignature } from '../../src/protocol/signature';

export interface FileKey {
  name: string;
  privateKey: KeyObject;
  jwk: JsonWebKey;
  publicKey: PublicKey;
  blob: Buffer;
}

export function makeFileKeys(): FileKey[] {
  const made: [string, KeyObject][] = [
    ['rsa2048', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['p256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
    ['p384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
    ['p521', generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey],
    ['ed25519', generateKeyPairSync('ed25519').privateKey],
  ];
  return made.map(([name, privateKey]) => {
    const jwk = privateKey.export({ format: 'jwk' });
    const publicKey = publicKeyFromJwk(jwk);
    return { name, privateKey, jwk, publicKey, blob: encodePublicKeyBlob(publicKey) };
  });
}

export const LOCK_PASSPHRASE = Buffer.from('fuzz lock passphrase');

export interface CorpusInputs {
  fileKeys: FileKey[];
  tokenBlobs: Buffer[];
  /** A module whose realpath is outside the allowlist (a copy of the real one). */
  outsideModule: string;
  missingModule: string;
  realModule: string;
}

/** Requests the mutator may start from. */
export function mutableCorpus(c: CorpusInputs): Buffer[] {
  const host = c.fileKeys.find((k) => k.name === 'ed25519')!;
  const sessionId = randomBytes(32);
  const hop = { user: '', hostname: 'fuzz.example', keys: [{ keyBlob: host.blob, isCa: false }] };
  const restrict: KeyConstraint = {
    kind: 'restrict-destination',
    constraints: [
      { from: { user: '', hostname: '', keys: [] }, to: hop },
      { from: hop, to: { ...hop, user: 'bob', hostname: 'b.example' } },
    ],
  };
  const reqs: AgentRequestInput[] = [
    { type: 'SSH_AGENTC_REQUEST_IDENTITIES' },
    { type: 'SSH_AGENTC_UNLOCK', passphrase: LOCK_PASSPHRASE },
    { type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'query' } },
    {
      type: 'SSH_AGENTC_EXTENSION',
      extension: {
        kind: 'session-bind',
        hostKey: host.blob,
        sessionId,
        signature: encodeSshSignature(host.publicKey, 'ssh-ed25519', sign(null, sessionId, host.privateKey)),
        isForwarding: false,
      },
    },
    { type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'other', name: 'status@tt-agent', body: Buffer.alloc(0) } },
    { type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'other', name: 'vendor@example.org', body: Buffer.from('payload') } },
    { type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId: c.outsideModule, pin: Buffer.from('000000'), constraints: [] },
    { type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId: c.missingModule, pin: Buffer.from('123456'), constraints: [] },
    {
      type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED',
      readerId: `pkcs11:token=tt-test?module-path=${encodeURIComponent(c.outsideModule)}`,
      pin: Buffer.from('123456'),
      constraints: [{ kind: 'lifetime', seconds: 600 }, restrict],
    },
    { type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY', readerId: c.outsideModule, pin: Buffer.alloc(0) },
    { type: 'unknown', code: 200 },
  ];
  for (const k of c.fileKeys) {
    reqs.push({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: k.jwk, comment: `fuzz ${k.name}` }, constraints: [] });
    reqs.push({ type: 'SSH_AGENTC_ADD_ID_CONSTRAINED', key: { jwk: k.jwk, comment: k.name }, constraints: [{ kind: 'lifetime', seconds: 3600 }] });
    reqs.push({ type: 'SSH_AGENTC_ADD_ID_CONSTRAINED', key: { jwk: k.jwk, comment: k.name }, constraints: [{ kind: 'confirm' }, restrict] });
    reqs.push({ type: 'SSH_AGENTC_REMOVE_IDENTITY', keyBlob: k.blob });
  }
  for (const blob of [...c.fileKeys.map((k) => k.blob), ...c.tokenBlobs]) {
    for (const flags of blob.includes('ssh-rsa') ? [0, 2, 4] : [0]) {
      reqs.push({ type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: blob, data: randomBytes(48 + (flags << 3)), flags });
    }
  }
  return reqs.map(encodeRequest);
}

/** Requests sent as they are, never mutated: they act on the real token or lock the agent. */
export function controlRequests(c: CorpusInputs, pin: string) {
  const enc = encodeRequest;
  return {
    lock: enc({ type: 'SSH_AGENTC_LOCK', passphrase: LOCK_PASSPHRASE }),
    unlock: enc({ type: 'SSH_AGENTC_UNLOCK', passphrase: LOCK_PASSPHRASE }),
    addToken: enc({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId: c.realModule, pin: Buffer.from(pin), constraints: [] }),
    addTokenBadPin: enc({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId: c.realModule, pin: Buffer.from('999999'), constraints: [] }),
    removeToken: enc({ type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY', readerId: c.realModule, pin: Buffer.alloc(0) }),
    removeAll: enc({ type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' }),
    // status@tt-agent with the optional detail string "full": the agent asks the module host too.
    statusFull: enc({ type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'other', name: 'status@tt-agent', body: Buffer.from('\0\0\0\x04full', 'latin1') } }),
    addFileKeys: c.fileKeys.map((k) => enc({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: k.jwk, comment: `fuzz ${k.name}` }, constraints: [] })),
  };
}
