// The module host through its agent-side provider, on fresh SoftHSM tokens: every key type
// signs and verifies with node:crypto, RSA honours the SHA-2 flags, keys whose certificate
// carries another CKA_ID sign, and parallel signatures all come back right.
import assert from 'node:assert/strict';
import test from 'node:test';
import { createHostProvider } from '../../src/host/host-provider';
import { quietPins } from './pins';
import { makeToken } from '../helpers/softhsm';
import { SSH_AGENT_RSA_SHA2_256, SSH_AGENT_RSA_SHA2_512 } from '../../src/protocol/signature';
import { verifySshSignature } from './verify';

test('every key type signs through the module host and verifies', { timeout: 120_000 }, async (t) => {
  const tok = makeToken();
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities, report } = await provider.load(Buffer.from(tok.pin));
  assert.equal(report.length, 1);
  assert.equal(report[0].token, 'tt-test');
  assert.equal(report[0].error, undefined);
  const byLabel = new Map(identities.map((i) => [i.comment, i]));
  // Comments follow OpenSSH: the certificate-only key carries its subject.
  for (const label of ['rsa2048', 'rsa3072', 'p256', 'p384', 'p521', 'ed25519', '/CN=cert-only', 'mismatch']) {
    assert.ok(byLabel.has(label), `key ${label} is offered (got ${[...byLabel.keys()].join(', ')})`);
  }
  assert.equal(report[0].added, identities.length);

  const data = Buffer.from('session identifier and userauth request');
  const expected: Record<string, string> = {
    p256: 'ecdsa-sha2-nistp256',
    p384: 'ecdsa-sha2-nistp384',
    p521: 'ecdsa-sha2-nistp521',
    ed25519: 'ssh-ed25519',
    mismatch: 'ecdsa-sha2-nistp256',
  };
  for (const [label, algorithm] of Object.entries(expected)) {
    const id = byLabel.get(label)!;
    assert.equal(verifySshSignature(id.publicKey, data, await provider.sign(id.blob, data, 0)), algorithm, label);
  }
  for (const label of ['rsa2048', 'rsa3072', '/CN=cert-only']) {
    const id = byLabel.get(label)!;
    assert.equal(verifySshSignature(id.publicKey, data, await provider.sign(id.blob, data, 0)), 'ssh-rsa');
    assert.equal(verifySshSignature(id.publicKey, data, await provider.sign(id.blob, data, SSH_AGENT_RSA_SHA2_256)), 'rsa-sha2-256');
    assert.equal(verifySshSignature(id.publicKey, data, await provider.sign(id.blob, data, SSH_AGENT_RSA_SHA2_512)), 'rsa-sha2-512');
    // Both bits set: SHA-512 wins, as in OpenSSH.
    const both = SSH_AGENT_RSA_SHA2_256 | SSH_AGENT_RSA_SHA2_512;
    assert.equal(verifySshSignature(id.publicKey, data, await provider.sign(id.blob, data, both)), 'rsa-sha2-512');
  }
});

test('16 signatures in parallel on one token all verify', { timeout: 120_000 }, async (t) => {
  const tok = makeToken();
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities } = await provider.load(Buffer.from(tok.pin));
  const keys = identities.filter((i) => ['rsa2048', 'p256', 'p384', 'ed25519'].includes(i.comment));
  const jobs = Array.from({ length: 16 }, (_, n) => {
    const id = keys[n % keys.length];
    const data = Buffer.from(`request ${n}`);
    return provider.sign(id.blob, data, SSH_AGENT_RSA_SHA2_256).then((sig) => verifySshSignature(id.publicKey, data, sig));
  });
  const results = await Promise.all(jobs);
  assert.equal(results.length, 16);
  const status = (await provider.status()) as { host?: { tokens: { sessions: number }[] } };
  // Several sessions were used: the signatures did not queue behind one session.
  assert.ok(status.host!.tokens[0].sessions > 1, `sessions open: ${status.host!.tokens[0].sessions}`);
});

test('a serialized module (as OpenSC needs) still signs 16 requests correctly, one at a time', { timeout: 120_000 }, async (t) => {
  const tok = makeToken();
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: { ...tok.env, TT_AGENT_SERIALIZE_MODULE: '1' } });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities } = await provider.load(Buffer.from(tok.pin));
  const id = identities.find((i) => i.comment === 'p256')!;
  const results = await Promise.all(
    Array.from({ length: 16 }, (_, n) => {
      const data = Buffer.from(`serialized ${n}`);
      return provider.sign(id.blob, data, 0).then((sig) => verifySshSignature(id.publicKey, data, sig));
    }),
  );
  assert.equal(results.length, 16);
  const status = (await provider.status()) as { host?: { serialized: boolean; tokens: { sessions: number }[] } };
  assert.equal(status.host!.serialized, true);
  assert.equal(status.host!.tokens[0].sessions, 1);
});

test('a key the host does not hold is refused with a clear error', { timeout: 60_000 }, async (t) => {
  const tok = makeToken({ tokens: 'twoTokens' });
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  await provider.load(Buffer.from(tok.pin), 'pkcs11:token=first');
  const other = await createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(() => other.close());
  const { identities } = await other.load(Buffer.from(tok.pin), 'pkcs11:token=second');
  await assert.rejects(provider.sign(identities[0].blob, Buffer.from('x'), 0), /no key with this public key is loaded/);
});
