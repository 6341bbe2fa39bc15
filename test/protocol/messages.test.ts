import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import test from 'node:test';
import {
  decodeQueryResponse,
  decodeRequest,
  decodeResponse,
  encodeIdentitiesAnswer,
  encodeRequest,
  encodeResponse,
  messageName,
  SSH_AGENTC_ADD_IDENTITY,
  SSH_AGENT_IDENTITIES_ANSWER,
} from '../../src/protocol/agent-messages';
import { readPrivateKey } from '../../src/protocol/private-key';
import { decodeSshSignature, encodeSshSignature, rsaSignatureAlgorithm } from '../../src/protocol/signature';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../src/protocol/ecdsa-der';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { verifySshSignature } from '../../src/protocol/verify';
import { SshReader, SshWriter, WireError } from '../../src/protocol/wire';
import { corpusKeys, requestCorpus, responseCorpus } from './corpus';

test('every request type round-trips byte for byte', () => {
  for (const req of requestCorpus()) {
    const body = encodeRequest(req);
    const decoded = decodeRequest(body);
    assert.notEqual(decoded.type, 'unsupported');
    if (decoded.type === 'unsupported') continue;
    assert.deepEqual(encodeRequest(decoded), body, req.type);
    if (decoded.type === 'SSH_AGENTC_ADD_IDENTITY' || decoded.type === 'SSH_AGENTC_ADD_ID_CONSTRAINED') {
      assert.ok(req.type === decoded.type);
      assert.deepEqual(decoded.key.publicKey, publicKeyFromJwk(req.key.jwk));
      // JWK with recomputed CRT values signs like the original.
      const a = sign(null, Buffer.from('x'), createPrivateKey({ key: decoded.key.jwk, format: 'jwk' }));
      assert.ok(a.length > 0);
    } else {
      assert.deepEqual(decoded, req);
    }
  }
});

test('every reply type round-trips; expect catches a stream out of step', () => {
  for (const body of responseCorpus()) assert.deepEqual(encodeResponse(decodeResponse(body)), body);
  const ids = encodeIdentitiesAnswer([]);
  assert.throws(() => decodeResponse(ids, 'SSH_AGENT_SIGN_RESPONSE'), /expected SSH_AGENT_SIGN_RESPONSE, got SSH_AGENT_IDENTITIES_ANSWER/);
  assert.equal(decodeResponse(Buffer.of(5), 'SSH_AGENT_SIGN_RESPONSE').type, 'SSH_AGENT_FAILURE');
  assert.throws(() => decodeResponse(Buffer.of(99)), /unexpected reply message 99/);
  // A count the body cannot hold is refused before any loop.
  assert.throws(() => decodeResponse(Buffer.of(SSH_AGENT_IDENTITIES_ANSWER, 0xff, 0xff, 0xff, 0xff)), WireError);
  assert.deepEqual(decodeQueryResponse(decodeResponse(responseCorpus()[4])), ['query', 'session-bind@openssh.com']);
  assert.deepEqual(decodeQueryResponse({ type: 'SSH_AGENT_SUCCESS', body: new SshWriter().string('query').toBuffer() }), ['query']);
});

test('unknown message numbers decode as unknown, with the body ignored', () => {
  assert.deepEqual(decodeRequest(Buffer.of(9)), { type: 'unknown', code: 9 });
  assert.deepEqual(decodeRequest(Buffer.of(1, 2, 3, 4)), { type: 'unknown', code: 1 });
  assert.throws(() => decodeRequest(Buffer.alloc(0)), WireError);
  assert.throws(() => decodeRequest(Buffer.of(11, 0)), /trailing/);
  assert.equal(messageName(13), 'SSH_AGENTC_SIGN_REQUEST');
});

test('ADD_IDENTITY keys that do not hold together are refused', () => {
  const [rsa, , , , ed] = corpusKeys();
  // RSA with q replaced: n != p*q.
  const w = new SshWriter().uint8(SSH_AGENTC_ADD_IDENTITY).string('ssh-rsa');
  const j = rsa.jwk;
  const b = (s?: string) => Buffer.from(s!, 'base64url');
  w.mpint(b(j.n)).mpint(b(j.e)).mpint(b(j.d)).mpint(b(j.qi)).mpint(b(j.p)).mpint(b(j.p)).string('c');
  assert.throws(() => decodeRequest(w.toBuffer()), /n != p\*q/);
  // Ed25519 whose 64-byte secret does not end with its public key.
  const e = new SshWriter().uint8(SSH_AGENTC_ADD_IDENTITY).string('ssh-ed25519').string(ed.pk.kind === 'ed25519' ? ed.pk.key : Buffer.alloc(32));
  e.string(Buffer.alloc(64, 1)).string('c');
  assert.throws(() => decodeRequest(e.toBuffer()), /does not contain its public key/);
  // A seed that is not the one behind the public key, though the suffix is right.
  const e2 = new SshWriter().uint8(SSH_AGENTC_ADD_IDENTITY).string('ssh-ed25519').string(ed.pk.kind === 'ed25519' ? ed.pk.key : Buffer.alloc(32));
  e2.string(Buffer.concat([Buffer.alloc(32, 7), ed.pk.kind === 'ed25519' ? ed.pk.key : Buffer.alloc(32)])).string('c');
  assert.throws(() => decodeRequest(e2.toBuffer()), /Ed25519 private key does not match its public key/);
  // An EC public key with someone else's private scalar.
  const [, p256a] = corpusKeys();
  const [, p256b] = corpusKeys();
  if (p256a.pk.kind === 'ecdsa') {
    const ec = new SshWriter().uint8(SSH_AGENTC_ADD_IDENTITY).string('ecdsa-sha2-nistp256').string('nistp256').string(p256a.pk.point);
    ec.mpint(Buffer.from(p256b.jwk.d!, 'base64url')).string('c');
    assert.throws(() => decodeRequest(ec.toBuffer()), /nistp256 private key does not match its public key/);
  }
  // ssh-dss and security keys are "unsupported", not junk.
  const dss = decodeRequest(new SshWriter().uint8(SSH_AGENTC_ADD_IDENTITY).string('ssh-dss').raw(Buffer.alloc(40)).toBuffer());
  assert.deepEqual(dss, { type: 'unsupported', code: 17, reason: 'unsupported key type "ssh-dss"' });
  assert.throws(() => readPrivateKey(new SshReader(Buffer.alloc(2))), WireError);
});

test('sign flags pick the RSA algorithm', () => {
  assert.equal(rsaSignatureAlgorithm(0), 'ssh-rsa');
  assert.equal(rsaSignatureAlgorithm(2), 'rsa-sha2-256');
  assert.equal(rsaSignatureAlgorithm(4), 'rsa-sha2-512');
  assert.equal(rsaSignatureAlgorithm(6), 'rsa-sha2-512');
  assert.equal(rsaSignatureAlgorithm(1), 'ssh-rsa');
});

test('ECDSA r||s <-> SSH mpints at fixed width, P-521 included; DER helpers agree with node', () => {
  for (const k of corpusKeys()) {
    if (k.pk.kind !== 'ecdsa') continue;
    const hash = { nistp256: 'sha256', nistp384: 'sha384', nistp521: 'sha512' }[k.pk.curve];
    const width = { nistp256: 32, nistp384: 48, nistp521: 66 }[k.pk.curve];
    for (let i = 0; i < 20; i++) {
      const data = Buffer.from(`msg ${i}`);
      const raw = sign(hash, data, { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
      assert.equal(raw.length, 2 * width);
      const blob = encodeSshSignature(k.pk, `ecdsa-sha2-${k.pk.curve}`, raw);
      const back = decodeSshSignature(blob);
      assert.deepEqual(back.raw, raw);
      assert.ok(verifySshSignature(k.pk, blob, data));
      const der = sign(hash, data, k.privateKey);
      const fromDer = ecdsaDerToRaw(der, k.pk.curve);
      assert.ok(verify(hash, data, { key: k.privateKey, dsaEncoding: 'ieee-p1363' }, fromDer));
      assert.deepEqual(ecdsaDerToRaw(ecdsaRawToDer(fromDer), k.pk.curve), fromDer);
    }
    // A small r (leading zero bytes) stays fixed-width.
    const small = Buffer.alloc(2 * width);
    small[width - 1] = 1;
    small[2 * width - 1] = 2;
    const dec = decodeSshSignature(encodeSshSignature(k.pk, `ecdsa-sha2-${k.pk.curve}`, small));
    assert.deepEqual(dec.raw, small);
    assert.deepEqual(dec.ecdsa, { r: Buffer.of(1), s: Buffer.of(2) });
    const type = `ecdsa-sha2-${k.pk.curve}`;
    assert.throws(() => encodeSshSignature(k.pk, type, Buffer.alloc(2 * width - 1)), WireError);
    assert.throws(() => encodeSshSignature(k.pk, 'ssh-ed25519', small), WireError);
  }
  assert.throws(() => ecdsaDerToRaw(Buffer.from('3006020101020101ff', 'hex'), 'nistp256'), WireError);
});

test('RSA signatures shorter than the modulus are left-padded (RFC 8332)', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pk = publicKeyFromJwk(privateKey.export({ format: 'jwk' }));
  const blob = encodeSshSignature(pk, 'rsa-sha2-256', Buffer.of(1, 2, 3));
  assert.equal(decodeSshSignature(blob).raw.length, 128);
  assert.throws(() => encodeSshSignature(pk, 'ssh-ed25519', Buffer.of(1)), WireError);
  assert.throws(() => encodeSshSignature(pk, 'rsa-sha2-256', Buffer.alloc(129, 1)), WireError);
});
