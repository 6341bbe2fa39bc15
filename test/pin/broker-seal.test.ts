// The broker as the only holder of PINs: which module may have which PIN (claims), and the
// sealing that keeps PINs encrypted while the agent is locked. No prompt can run here: every
// PIN that comes back comes from the broker's memory.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { PinBroker } from '../../src/pin/broker';
import type { TokenRef } from '../../src/pin/token-ref';

const WORK: TokenRef = { label: 'work', serial: '01' };
const BANK: TokenRef = { label: 'bank', serial: '02' };
const A = '/usr/lib/a-pkcs11.so';
const B = '/usr/lib/b-pkcs11.so';

function broker(t: test.TestContext, lines: string[] = []): PinBroker {
  const b = new PinBroker({ pinentry: false, askpass: { require: 'never' }, unlockWaitMs: 0, log: (l) => lines.push(l) });
  t.after(() => b.close());
  return b;
}

const text = (b: Buffer | null) => b?.toString('utf8') ?? null;

test("a module gets the PINs of the tokens it claimed, never another module's", async (t) => {
  const lines: string[] = [];
  const b = broker(t, lines);
  assert.ok(b.claim(A, WORK));
  assert.ok(b.claim(B, BANK));
  assert.ok(b.keep(A, WORK, Buffer.from('1111')));
  assert.ok(b.keep(B, BANK, Buffer.from('2222')));
  assert.equal(text(await b.getPin(WORK, {}, A)), '1111');
  assert.equal(await b.getPin(BANK, {}, A), null, "A asked for B's token");
  assert.match(lines.join('\n'), /refused: module \/usr\/lib\/a-pkcs11\.so asked for the PIN of token "bank" \(serial 02\), which it does not serve/);
  // Reporting a token another module serves does not make it yours: it makes it nobody's.
  assert.equal(b.claim(A, BANK), false);
  assert.equal(await b.getPin(BANK, {}, A), null);
  assert.equal(b.keep(A, BANK, Buffer.from('9999')), false, 'nor may it overwrite that PIN');
  assert.equal(await b.getPin(BANK, {}, B), null, 'a contested token gets no PIN from the broker');
  b.release(A);
  // The broker cannot tell which of two modules naming one token is the impostor: whichever
  // goes first takes the kept PIN with it, and the one left must be given the PIN again.
  assert.equal(b.serves(B, BANK), true, 'once the other module is gone, B serves its token again');
  assert.equal(b.has(BANK), false, 'but the PIN kept while the token was contested is gone');
  assert.equal(await b.getPin(BANK, {}, B), null);
});

test('a module that named a token beside its own module is not handed its PIN when that module is removed', async (t) => {
  const b = broker(t);
  assert.ok(b.claim(B, BANK));
  assert.ok(b.keep(B, BANK, Buffer.from('2222')));
  assert.equal(b.claim(A, BANK), false);
  b.release(B);
  assert.equal(b.serves(A, BANK), true);
  assert.equal(await b.getPin(BANK, {}, A), null, "the removed module's PIN does not pass to the other claimant");
});

test('release: a removed module leaves no PIN behind, and its tokens can be claimed again', async (t) => {
  const b = broker(t);
  b.claim(A, WORK);
  b.keep(A, WORK, Buffer.from('1111'));
  b.release(A);
  assert.equal(b.has(WORK), false);
  assert.equal(await b.getPin(WORK, {}, A), null);
  assert.ok(b.claim(B, WORK));
});

test('seal encrypts every kept PIN, zeroes the plaintext, and hands nothing out until unsealed', async (t) => {
  const b = broker(t);
  b.claim(A, WORK);
  b.claim(B, BANK);
  const work = Buffer.from('1111');
  b.keep(A, WORK, work);
  b.keep(B, BANK, Buffer.from('2222'));
  // The kept copy is the broker's; reach it to watch it being zeroed.
  const cache = (b as unknown as { cache: { entries: Map<string, { pin: Buffer | null; sealed?: { data: Buffer } }> } }).cache;
  const kept = [...cache.entries.values()].map((e) => e.pin!);
  assert.deepEqual(kept.map(String), ['1111', '2222']);

  const key = randomBytes(32);
  assert.ok(b.seal(key));
  assert.ok(b.sealed);
  for (const p of kept) assert.ok(p.every((x) => x === 0), 'plaintext zeroed');
  for (const e of cache.entries.values()) {
    assert.equal(e.pin, null);
    assert.ok(e.sealed && !e.sealed.data.includes(Buffer.from('1111')) && !e.sealed.data.includes(Buffer.from('2222')));
  }
  assert.equal(await b.getPin(WORK, {}, A), null, 'nothing handed out while sealed');
  assert.equal(b.has(WORK), true, 'but still kept');
  assert.equal(b.keep(A, WORK, Buffer.from('3333')), false, 'nothing new kept while sealed');
  assert.equal(b.seal(randomBytes(32)), false, 'sealing twice is refused');

  assert.equal(b.unseal(randomBytes(32)), false, 'a wrong key unseals nothing');
  assert.ok(b.sealed);
  assert.equal(await b.getPin(WORK, {}, A), null);
  assert.ok(b.unseal(key), 'the right key still works after a wrong one');
  assert.equal(b.sealed, false);
  assert.equal(text(await b.getPin(WORK, {}, A)), '1111');
  assert.equal(text(await b.getPin(BANK, {}, B)), '2222');
  assert.equal(work.toString(), '1111', "the caller's Buffer was never the broker's");
});

test('forgetAll drops sealed PINs too; keys of the wrong size are refused', async (t) => {
  const b = broker(t);
  b.claim(A, WORK);
  b.keep(A, WORK, Buffer.from('1111'));
  const key = randomBytes(32);
  b.seal(key);
  b.forgetAll();
  assert.ok(b.unseal(key));
  assert.equal(b.has(WORK), false);
  assert.throws(() => b.seal(Buffer.alloc(16)), /32 bytes/);
});

test('a rejected PIN that came from the cache is forgotten', async (t) => {
  const b = broker(t);
  b.claim(A, WORK);
  b.keep(A, WORK, Buffer.from('1111'));
  assert.equal(text(await b.getPin(WORK, {}, A)), '1111');
  await b.reject(WORK);
  assert.equal(b.has(WORK), false, 'the kept PIN was the rejected one: forgotten');
});
