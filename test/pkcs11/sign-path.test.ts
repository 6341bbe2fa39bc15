// The sign path inside a module host, against a fresh SoftHSM token: Session.sign's two ways
// of calling C_Sign, a session's one-user rule, the pool telling an operation whether it is
// alone, and signForSsh choosing the synchronous way only then.
import assert from 'node:assert/strict';
import test from 'node:test';
import { findKeyPairs, openModule, type KeyPair, type Session } from '../../src/pkcs11';
import { ModuleGate, SessionPool } from '../../src/pkcs11/session-pool';
import { CKM_ECDSA, signForSsh } from '../../src/pkcs11/sign';
import { makeToken } from '../helpers/softhsm';
import { verifySshSignature } from '../host/verify';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { publicKeyToJwk } from '../../src/pkcs11/key-material';

async function withSession(body: (s: Session, p256: KeyPair) => Promise<void>): Promise<void> {
  const tok = makeToken();
  const m = openModule(tok.module);
  try {
    const s = m.slots()[0].openSession();
    s.login(Buffer.from(tok.pin));
    const p256 = findKeyPairs(s).find((p) => p.label === 'p256')!;
    await body(s, p256);
    await s.close();
  } finally {
    m.close();
    tok.cleanup();
  }
}

/** True when `s` has an operation running off the event loop (it then refuses any other call). */
function busy(s: Session): boolean {
  try {
    s.generateRandom(1);
    return false;
  } catch (err) {
    assert.match((err as Error).message, /another operation is in progress/);
    return true;
  }
}

function verifiesP256(pair: KeyPair, data: Buffer, raw: Buffer): boolean {
  const key = createPublicKey({ key: publicKeyToJwk(pair.publicKey!), format: 'jwk' });
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, raw);
}

test('Session.sign: sync signs before it returns, async on a worker thread; both verify', () =>
  withSession(async (s, p256) => {
    const data = Buffer.from('signed both ways');
    const digest = createHash('sha256').update(data).digest();
    const sync = s.sign(p256.privateKey!, { mechanism: CKM_ECDSA }, digest, { sync: true });
    assert.equal(busy(s), false, 'a synchronous signature leaves nothing running');
    const async = s.sign(p256.privateKey!, { mechanism: CKM_ECDSA }, digest);
    assert.equal(busy(s), true, 'an asynchronous signature holds the session until C_Sign returns');
    // A second signature meanwhile is the caller's bug: refused, never queued.
    await assert.rejects(s.sign(p256.privateKey!, { mechanism: CKM_ECDSA }, digest), /another operation is in progress/);
    assert.ok(verifiesP256(p256, data, await sync));
    assert.ok(verifiesP256(p256, data, await async));
    assert.equal(busy(s), false);
  }));

test('Session.close waits for the signature running off the event loop, then closes', () =>
  withSession(async (s, p256) => {
    const data = Buffer.from('closing');
    const digest = createHash('sha256').update(data).digest();
    const signing = s.sign(p256.privateKey!, { mechanism: CKM_ECDSA }, digest);
    const closing = s.close();
    assert.equal(s.isClosed, false);
    assert.ok(verifiesP256(p256, data, await signing));
    await closing;
    assert.equal(s.isClosed, true);
    assert.throws(() => s.generateRandom(1), /session is closed/);
  }));

test('SessionPool.use tells each operation whether it is alone on the module (every pool of it)', async () => {
  const tok = makeToken({ tokens: 'twoTokens' });
  const m = openModule(tok.module);
  try {
    const [a, b] = m.slots();
    const gate = new ModuleGate(false);
    const poolA = new SessionPool(a, gate);
    const poolB = new SessionPool(b, gate);
    assert.equal(await poolA.use((_s, alone) => alone), true);
    let release!: () => void;
    let started!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const running = new Promise<void>((r) => (started = r));
    const first = poolA.use(async (_s, alone) => {
      started();
      await held;
      return alone;
    });
    await running;
    // Another token of the same module: not alone while the first operation runs.
    assert.equal(await poolB.use((_s, alone) => alone), false);
    assert.equal(await poolA.use((_s, alone) => alone), false);
    release();
    assert.equal(await first, true);
    assert.equal(await poolB.use((_s, alone) => alone), true);
    await poolA.drop();
    await poolB.drop();
  } finally {
    m.close();
    tok.cleanup();
  }
});

test('signForSsh signs synchronously only when alone and the key was fast last time', () =>
  withSession(async (s, p256) => {
    const data = Buffer.from('ssh');
    const check = async (pending: Promise<Buffer>, expectBusy: boolean, why: string) => {
      assert.equal(busy(s), expectBusy, why);
      verifySshSignature(p256.publicKey!, data, await pending);
    };
    await check(signForSsh(s, p256, data, 0, { alone: true }), true, 'a key not yet timed signs on a worker thread');
    // The first signatures of a process are slow (worker threads starting, cold caches); a
    // software token's next ones take well under the 3 ms limit.
    let tries = 1;
    for (; tries <= 20; tries++) {
      const pending = signForSsh(s, p256, data, 0, { alone: true });
      const wasBusy = busy(s);
      verifySshSignature(p256.publicKey!, data, await pending);
      if (!wasBusy) break;
    }
    assert.ok(tries <= 20, 'alone and fast: synchronous');
    await check(signForSsh(s, p256, data, 0, { alone: false }), true, 'not alone: worker thread');
    await check(signForSsh(s, p256, data, 0), true, 'alone by default false');
  }));
