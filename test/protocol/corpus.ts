// Valid request and reply bodies of every kind, as seeds for round-trip and fuzz tests.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { encodeRequest, encodeFailure, encodeIdentitiesAnswer, encodeQueryResponse, encodeSignResponse, encodeSuccess, encodeExtensionResponse, type AgentRequestInput } from '../../src/protocol/agent-messages';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { encodeSshSignature } from '../../src/protocol/signature';
import { publicKeyFromJwk } from '../../src/protocol/jwk';

export function corpusKeys() {
  const pairs = [
    generateKeyPairSync('rsa', { modulusLength: 1024 }),
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    generateKeyPairSync('ed25519'),
  ];
  return pairs.map(({ privateKey }) => {
    const jwk = privateKey.export({ format: 'jwk' });
    const pk = publicKeyFromJwk(jwk);
    return { privateKey, jwk, pk, blob: encodePublicKeyBlob(pk) };
  });
}

export function requestCorpus(): AgentRequestInput[] {
  const keys = corpusKeys();
  const host = keys[4];
  const sessionId = randomBytes(32);
  const hop = { user: '', hostname: 'a.example', keys: [{ keyBlob: host.blob, isCa: false }] };
  const out: AgentRequestInput[] = [
    { type: 'SSH_AGENTC_REQUEST_IDENTITIES' },
    { type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' },
    { type: 'SSH_AGENTC_LOCK', passphrase: Buffer.from('pass phrase') },
    { type: 'SSH_AGENTC_UNLOCK', passphrase: Buffer.from('pass phrase') },
    { type: 'SSH_AGENTC_ADD_SMARTCARD_KEY', readerId: '/usr/lib/softhsm/libsofthsm2.so', pin: Buffer.from('1234'), constraints: [] },
    {
      type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED',
      readerId: 'pkcs11:token=a;module-name=softhsm2',
      pin: Buffer.from('1234'),
      constraints: [
        { kind: 'lifetime', seconds: 60 },
        { kind: 'confirm' },
        { kind: 'restrict-destination', constraints: [{ from: { user: '', hostname: '', keys: [] }, to: hop }, { from: hop, to: { ...hop, user: 'bob', hostname: 'b.example' } }] },
      ],
    },
    { type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY', readerId: '/usr/lib/x.so', pin: Buffer.alloc(0) },
    { type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'query' } },
    {
      type: 'SSH_AGENTC_EXTENSION',
      extension: {
        kind: 'session-bind',
        hostKey: host.blob,
        sessionId,
        signature: encodeSshSignature(host.pk, 'ssh-ed25519', sign(null, sessionId, host.privateKey)),
        isForwarding: true,
      },
    },
    { type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'other', name: 'vendor@example.org', body: Buffer.from('payload') } },
    { type: 'unknown', code: 200 },
  ];
  for (const k of keys) {
    out.push({ type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: k.blob, data: randomBytes(64), flags: 4 });
    out.push({ type: 'SSH_AGENTC_REMOVE_IDENTITY', keyBlob: k.blob });
    out.push({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: k.jwk, comment: `comment ${k.pk.kind}` }, constraints: [] });
    out.push({
      type: 'SSH_AGENTC_ADD_ID_CONSTRAINED',
      key: { jwk: k.jwk, comment: '' },
      constraints: [{ kind: 'confirm' }, { kind: 'maxsign', maxSignatures: 5 }, { kind: 'lifetime', seconds: 1 }],
    });
  }
  return out;
}

export function responseCorpus(): Buffer[] {
  const keys = corpusKeys();
  return [
    encodeFailure(),
    encodeSuccess(),
    encodeIdentitiesAnswer(keys.map((k) => ({ blob: k.blob, comment: k.pk.kind }))),
    encodeSignResponse(encodeSshSignature(keys[4].pk, 'ssh-ed25519', sign(null, Buffer.of(1), keys[4].privateKey))),
    encodeQueryResponse(['query', 'session-bind@openssh.com']),
    encodeExtensionResponse('vendor@example.org', Buffer.of(1, 2, 3)),
  ];
}

export function encodedRequests(): Buffer[] {
  return requestCorpus().map(encodeRequest);
}
