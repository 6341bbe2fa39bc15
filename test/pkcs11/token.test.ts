// The token layer in-process against fresh SoftHSM tokens: module loading, slots, sessions,
// and key pairing when tokens do odd things.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as pkcs11js from 'pkcs11js';
import {
  CKK_EC_EDWARDS,
  findKeyPairs,
  ModuleLoadError,
  openModule,
  selectTokens,
  TokenError,
  TokenSelectionError,
  type Pkcs11Module,
  type Session,
} from '../../src/pkcs11';
import { makeToken, SOFTHSM_MODULE } from '../helpers/softhsm';

function loadError(path: string): ModuleLoadError {
  try {
    openModule(path).close();
  } catch (e) {
    assert.ok(e instanceof ModuleLoadError, String(e));
    return e;
  }
  assert.fail(`${path} loaded`);
}

// SoftHSM reads SOFTHSM2_CONF in C_Initialize, so this runs before any token is opened.
test('module load failures say which step failed', () => {
  assert.equal(loadError('/nonexistent.so').reason, 'not-found');
  assert.equal(loadError('/tmp').reason, 'not-a-file');
  assert.equal(loadError('/etc/passwd').reason, 'not-shared-library');
  assert.equal(loadError('/usr/lib/x86_64-linux-gnu/libz.so.1').reason, 'not-pkcs11');
  const saved = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = '/nonexistent/softhsm2.conf';
  try {
    const e = loadError(SOFTHSM_MODULE);
    assert.equal(e.reason, 'initialize-failed');
    assert.equal(e.ckr, 'CKR_GENERAL_ERROR');
  } finally {
    if (saved === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = saved;
  }
});

function withToken(preset: Parameters<typeof makeToken>[0], body: (m: Pkcs11Module, pin: string) => Promise<void> | void) {
  return async () => {
    const tok = makeToken(preset);
    const m = openModule(tok.module);
    try {
      await body(m, tok.pin);
    } finally {
      m.close();
      tok.cleanup();
    }
  };
}

test(
  'slots: initialized tokens are used, the uninitialized one only reported',
  withToken({ tokens: 'twoTokens' }, (m) => {
    const scan = m.scan();
    assert.deepEqual(scan.tokens.map((t) => t.label).sort(), ['first', 'second']);
    assert.equal(scan.uninitialized.length, 1);
    const [second] = selectTokens(m, { text: 'pkcs11:token=second', token: 'second' });
    assert.equal(second.label, 'second');
    assert.throws(
      () => selectTokens(m, { text: 'pkcs11:serial=x', serial: 'x' }),
      (e: unknown) => e instanceof TokenSelectionError && e.reason === 'no-match' && e.available.length === 2,
    );
  }),
);

test(
  'login: CKR_PIN_INCORRECT is a TokenError by code; the right PIN reveals the private keys',
  withToken({}, (m, pin) => {
    const s = m.slots()[0].openSession();
    assert.throws(
      () => s.login(Buffer.from('000000')),
      (e: unknown) => e instanceof TokenError && e.ckr === 'CKR_PIN_INCORRECT' && e.fn === 'C_Login' && e.code === 0xa0,
    );
    assert.equal(findKeyPairs(s).filter((p) => p.privateKey).length, 0);
    s.login(Buffer.from(pin));
    const pairs = findKeyPairs(s);
    assert.equal(pairs.length, 8);
    assert.ok(pairs.every((p) => p.canSign && p.privateKey));
    const certOnly = pairs.find((p) => p.label === 'cert-only')!;
    assert.equal(certOnly.publicKeyObject, undefined);
    assert.equal(certOnly.publicKeySource, 'private-key'); // RSA modulus read from the private key
    assert.equal(certOnly.certSubject, 'CN=cert-only');
    const mismatch = pairs.find((p) => p.label === 'mismatch')!;
    assert.ok(mismatch.certificate);
    assert.deepEqual(mismatch.issues.map((i) => i.code), ['id-mismatch']);
  }),
);

function handleOf(s: Session, cls: number, label: string): Buffer {
  const [h] = s.findObjects([
    { type: pkcs11js.CKA_CLASS, value: cls },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  assert.ok(h, label);
  return h;
}

test(
  'empty and duplicate CKA_IDs are paired by key material and flagged',
  withToken({}, (m, pin) => {
    const s = m.slots()[0].openSession({ readWrite: true });
    s.login(Buffer.from(pin));
    const lib = s.token.lib;
    for (const cls of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
      lib.C_SetAttributeValue(s.handle, handleOf(s, cls, 'rsa2048'), [{ type: pkcs11js.CKA_ID, value: Buffer.alloc(0) }]);
      // rsa3072's private key now shares CKA_ID 03 with the P-256 key; its public key keeps 02
      lib.C_SetAttributeValue(s.handle, handleOf(s, pkcs11js.CKO_PRIVATE_KEY, 'rsa3072'), [{ type: pkcs11js.CKA_ID, value: Buffer.from([3]) }]);
    }
    const pairs = findKeyPairs(s);
    assert.equal(pairs.length, 8);
    const by = (l: string) => pairs.find((p) => p.label === l)!;
    assert.ok(by('rsa2048').privateKey && by('rsa2048').publicKeyObject);
    assert.deepEqual(by('rsa2048').issues.map((i) => i.code), ['empty-id']);
    const r3 = by('rsa3072');
    assert.ok(r3.privateKey && r3.publicKeyObject, 'paired by modulus despite the IDs');
    assert.deepEqual(r3.issues.map((i) => i.code), ['id-mismatch', 'duplicate-id']);
    // The P-256 private key has no material to compare; CKA_ID 03 is shared, yet its public
    // key object still finds it because RSA's public key went to RSA's private key first.
    assert.ok(by('p256').privateKey && by('p256').publicKeyObject && by('p256').canSign);
  }),
);

test(
  'a raw (not DER-wrapped) CKA_EC_POINT and an OID-form Ed25519 CKA_EC_PARAMS',
  withToken({}, (m, pin) => {
    const s = m.slots()[0].openSession({ readWrite: true });
    s.login(Buffer.from(pin));
    const lib = s.token.lib;
    const pubHandle = handleOf(s, pkcs11js.CKO_PUBLIC_KEY, 'p256');
    const before = findKeyPairs(s).find((p) => p.label === 'p256')!.publicKey!;
    const wrapped = lib.C_GetAttributeValue(s.handle, pubHandle, [{ type: pkcs11js.CKA_EC_POINT }])[0].value;
    lib.C_DestroyObject(s.handle, pubHandle);
    lib.C_CreateObject(s.handle, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_ID, value: Buffer.from([3]) },
      { type: pkcs11js.CKA_LABEL, value: 'p256' },
      { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
      { type: pkcs11js.CKA_EC_POINT, value: wrapped.subarray(2) },
    ]);
    // Ed25519 again, as PKCS#11 3.0 tokens write it: the OID, and the bare 32-byte key.
    const edHandle = handleOf(s, pkcs11js.CKO_PUBLIC_KEY, 'ed25519');
    const edBefore = findKeyPairs(s).find((p) => p.label === 'ed25519')!.publicKey;
    lib.C_DestroyObject(s.handle, edHandle);
    lib.C_CreateObject(s.handle, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_ID, value: Buffer.from([6]) },
      { type: pkcs11js.CKA_LABEL, value: 'ed25519' },
      { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06032b6570', 'hex') },
      { type: pkcs11js.CKA_EC_POINT, value: (edBefore as { key: Buffer }).key },
    ]);
    const after = findKeyPairs(s);
    assert.deepEqual(after.find((p) => p.label === 'p256')!.publicKey, before);
    assert.equal(after.find((p) => p.label === 'p256')!.canSign, true);
    assert.deepEqual(after.find((p) => p.label === 'ed25519')!.publicKey, edBefore);
    assert.equal(after.find((p) => p.label === 'ed25519')!.canSign, true);
  }),
);
