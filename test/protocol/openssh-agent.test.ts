// Our client-side encoders against the real OpenSSH ssh-agent: if it accepts what we send and
// answers what we expect, the bytes are right.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, type JsonWebKey } from 'node:crypto';
import test from 'node:test';
import {
  decodeQueryResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  SSH_AGENT_RSA_SHA2_256,
  SSH_AGENT_RSA_SHA2_512,
  type KeyConstraint,
} from '../../src/protocol/agent-messages';
import { authorizedKeysLine } from '../../src/protocol/authorized-keys';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { sshKeyType, type PublicKey } from '../../src/protocol/public-key';
import { decodeSshSignature, encodeSshSignature } from '../../src/protocol/signature';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { verifySshSignature } from '../../src/protocol/verify';
import { WireError } from '../../src/protocol/wire';
import { agentCall, sh, startSshAgent, tempDir } from './helpers';

function nodeKey(kind: 'rsa' | 'P-256' | 'P-384' | 'P-521' | 'ed25519'): { jwk: JsonWebKey; pk: PublicKey; blob: Buffer } {
  const { privateKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: kind });
  const jwk = privateKey.export({ format: 'jwk' });
  const pk = publicKeyFromJwk(jwk);
  return { jwk, pk, blob: encodePublicKeyBlob(pk) };
}

test('the real ssh-agent accepts, lists, signs with, locks and removes keys we encode', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const agent = await startSshAgent(dir);
  t.after(agent.stop);
  const call = async (req: Parameters<typeof encodeRequest>[0]) => decodeResponse(await agentCall(agent.socket, encodeRequest(req)));

  const hostKey = nodeKey('ed25519');
  const keys = {
    rsa: nodeKey('rsa'),
    p256: nodeKey('P-256'),
    p384: nodeKey('P-384'),
    p521: nodeKey('P-521'),
    ed25519: nodeKey('ed25519'),
  };
  const constraints: Record<keyof typeof keys, KeyConstraint[]> = {
    rsa: [],
    p256: [{ kind: 'lifetime', seconds: 3600 }],
    p384: [
      {
        kind: 'restrict-destination',
        constraints: [
          { from: { user: '', hostname: '', keys: [] }, to: { user: 'me', hostname: 'h.example', keys: [{ keyBlob: hostKey.blob, isCa: false }] } },
        ],
      },
    ],
    p521: [{ kind: 'lifetime', seconds: 60 }],
    ed25519: [],
  };
  for (const [name, k] of Object.entries(keys) as [keyof typeof keys, (typeof keys)['rsa']][]) {
    const req = {
      type: constraints[name].length ? ('SSH_AGENTC_ADD_ID_CONSTRAINED' as const) : ('SSH_AGENTC_ADD_IDENTITY' as const),
      key: { jwk: k.jwk, comment: `${name} from node` },
      constraints: constraints[name],
    };
    // Our own decoder reads back exactly what we encoded.
    const back = decodeRequest(encodeRequest(req));
    assert.ok(back.type === req.type);
    assert.deepEqual(back.key.publicKey, k.pk);
    assert.deepEqual(back.constraints, req.constraints);
    assert.deepEqual(await call(req), { type: 'SSH_AGENT_SUCCESS', body: Buffer.alloc(0) }, name);
  }

  const ids = await call({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' });
  assert.ok(ids.type === 'SSH_AGENT_IDENTITIES_ANSWER');
  assert.deepEqual(
    new Set(ids.identities.map((i) => `${i.blob.toString('hex')} ${i.comment}`)),
    new Set(Object.entries(keys).map(([n, k]) => `${k.blob.toString('hex')} ${n} from node`)),
  );
  const listed = (await sh('ssh-add', ['-L'], { SSH_AUTH_SOCK: agent.socket })).stdout.trim().split('\n').sort();
  assert.deepEqual(listed, Object.entries(keys).map(([n, k]) => authorizedKeysLine(k.pk, `${n} from node`)).sort());

  const data = randomBytes(100);
  const signWith = async (k: { blob: Buffer }, flags: number): Promise<Buffer> => {
    const resp = await call({ type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: k.blob, data, flags });
    assert.ok(resp.type === 'SSH_AGENT_SIGN_RESPONSE', agent.log());
    return resp.signature;
  };
  for (const [flags, algorithm] of [
    [0, 'ssh-rsa'],
    [SSH_AGENT_RSA_SHA2_256, 'rsa-sha2-256'],
    [SSH_AGENT_RSA_SHA2_512, 'rsa-sha2-512'],
  ] as const) {
    const sig = await signWith(keys.rsa, flags);
    assert.equal(decodeSshSignature(sig).algorithm, algorithm);
    assert.ok(verifySshSignature(keys.rsa.pk, sig, data), algorithm);
    assert.ok(!verifySshSignature(keys.rsa.pk, sig, Buffer.concat([data, Buffer.of(0)])));
  }
  // OpenSSH refuses a destination-constrained key on a connection without session-bind.
  const unbound = await call({ type: 'SSH_AGENTC_SIGN_REQUEST', keyBlob: keys.p384.blob, data, flags: 0 });
  assert.equal(unbound.type, 'SSH_AGENT_FAILURE');
  await agent.waitForLog(/refusing use of destination-constrained key to sign on unbound connection/);
  for (const name of ['p256', 'p521', 'ed25519'] as const) {
    const sig = await signWith(keys[name], 0);
    const decoded = decodeSshSignature(sig);
    assert.equal(decoded.algorithm, sshKeyType(keys[name].pk));
    assert.ok(verifySshSignature(keys[name].pk, sig, data), name);
    assert.ok(!verifySshSignature(keys.p256.pk, sig, data) || name === 'p256');
  }

  // LOCK / UNLOCK with the passphrase as raw bytes.
  const pass = Buffer.from('s3cret pass');
  assert.equal((await call({ type: 'SSH_AGENTC_LOCK', passphrase: pass })).type, 'SSH_AGENT_SUCCESS');
  assert.deepEqual(await call({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }), { type: 'SSH_AGENT_IDENTITIES_ANSWER', identities: [] });
  assert.equal((await call({ type: 'SSH_AGENTC_UNLOCK', passphrase: Buffer.from('wrong') })).type, 'SSH_AGENT_FAILURE');
  assert.equal((await call({ type: 'SSH_AGENTC_UNLOCK', passphrase: pass })).type, 'SSH_AGENT_SUCCESS');

  assert.equal((await call({ type: 'SSH_AGENTC_REMOVE_IDENTITY', keyBlob: keys.ed25519.blob })).type, 'SSH_AGENT_SUCCESS');
  const after = await call({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' });
  assert.ok(after.type === 'SSH_AGENT_IDENTITIES_ANSWER' && after.identities.length === 4);
  assert.equal((await call({ type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' })).type, 'SSH_AGENT_SUCCESS');
  assert.deepEqual(await call({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }), { type: 'SSH_AGENT_IDENTITIES_ANSWER', identities: [] });
});

test('session-bind@openssh.com we encode is verified by the real ssh-agent', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const agent = await startSshAgent(dir);
  t.after(agent.stop);
  const host = nodeKey('ed25519');
  const sessionId = randomBytes(32);
  const rawSig = sign(null, sessionId, { key: host.jwk, format: 'jwk' });
  const signature = encodeSshSignature(host.pk, 'ssh-ed25519', rawSig);
  const bind = (sig: Buffer) =>
    encodeRequest({
      type: 'SSH_AGENTC_EXTENSION',
      extension: { kind: 'session-bind', hostKey: host.blob, sessionId, signature: sig, isForwarding: false },
    });
  assert.deepEqual(decodeRequest(bind(signature)), {
    type: 'SSH_AGENTC_EXTENSION',
    extension: { kind: 'session-bind', hostKey: host.blob, sessionId, signature, isForwarding: false },
  });
  assert.equal(decodeResponse(await agentCall(agent.socket, bind(signature))).type, 'SSH_AGENT_SUCCESS');
  const forged = Buffer.from(signature);
  forged[forged.length - 1] ^= 1;
  assert.equal(decodeResponse(await agentCall(agent.socket, bind(forged))).type, 'SSH_AGENT_FAILURE');

  // OpenSSH 9.2 predates "query": it must answer a failure, which decodeQueryResponse maps to null.
  const q = decodeResponse(await agentCall(agent.socket, encodeRequest({ type: 'SSH_AGENTC_EXTENSION', extension: { kind: 'query' } })));
  assert.equal(decodeQueryResponse(q), null);
});

test('unknown constraints: the real ssh-agent refuses the key, and our decoder throws WireError', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const agent = await startSshAgent(dir);
  t.after(agent.stop);
  const k = nodeKey('ed25519');
  const base = encodeRequest({
    type: 'SSH_AGENTC_ADD_ID_CONSTRAINED',
    key: { jwk: k.jwk, comment: 'c' },
    constraints: [{ kind: 'confirm' }],
  });
  const withoutConfirm = base.subarray(0, base.length - 1);
  const unknownCode = Buffer.concat([withoutConfirm, Buffer.of(99)]);
  const name = Buffer.from('no-such-constraint@example.org');
  const unknownExt = Buffer.concat([withoutConfirm, Buffer.of(255, 0, 0, 0, name.length), name]);
  for (const body of [unknownCode, unknownExt]) {
    assert.throws(() => decodeRequest(body), WireError);
    assert.equal(decodeResponse(await agentCall(agent.socket, body)).type, 'SSH_AGENT_FAILURE');
  }
  assert.deepEqual(await sh('ssh-add', ['-l'], { SSH_AUTH_SOCK: agent.socket }).catch((e) => e.stdout), 'The agent has no identities.\n');
});
