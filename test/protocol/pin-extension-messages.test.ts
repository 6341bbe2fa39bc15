// The unlock-token@tt-agent / forget-pin@tt-agent wire format, and the agent-side dispatch
// through a real broker.
import assert from 'node:assert/strict';
import test from 'node:test';
import { SshReader } from '../../src/protocol/wire';
import { WireError } from '../../src/protocol/wire';
import { PinBroker } from '../../src/pin/broker';
import { decodePinReply, handlePinExtension } from '../../src/pin/pin-extensions';
import { parseTokenSelector, tokenMatches } from '../../src/pin/token-ref';
import {
  decodeForgetPinBody,
  decodeUnlockBody,
  encodeForgetPinRequest,
  encodeUnlockRequest,
  FORGET_PIN_EXTENSION,
  UNLOCK_EXTENSION,
} from '../../src/protocol/pin-extension-messages';

function splitExtension(msg: Buffer): { name: string; body: Buffer } {
  const r = new SshReader(msg);
  assert.equal(r.uint8(), 27, 'SSH_AGENTC_EXTENSION');
  return { name: r.stringUtf8(), body: r.rest() };
}

test('unlock-token@tt-agent: exact layout, round trip, and the PIN wiped from the request', () => {
  const msg = encodeUnlockRequest({ selector: 'work', pin: Buffer.from('1234'), remember: true });
  assert.equal(
    msg.toString('hex'),
    '1b' + '00000015' + Buffer.from('unlock-token@tt-agent').toString('hex') + '00000004' + Buffer.from('work').toString('hex') + '00000004' + '31323334' + '01',
  );
  const { name, body } = splitExtension(msg);
  assert.equal(name, UNLOCK_EXTENSION);
  const req = decodeUnlockBody(body);
  assert.deepEqual({ ...req, pin: req.pin.toString() }, { selector: 'work', pin: '1234', remember: true });
  assert.equal(msg.indexOf('1234'), -1, 'the PIN bytes in the request are zeroed');
});

test('unlock-token@tt-agent: empty PIN, trailing bytes and truncation are refused', () => {
  const bad = [
    encodeUnlockRequest({ selector: '', pin: Buffer.alloc(0), remember: false }),
    Buffer.concat([encodeUnlockRequest({ selector: '', pin: Buffer.from('1'), remember: false }), Buffer.of(0)]),
    encodeUnlockRequest({ selector: 'x', pin: Buffer.from('1234'), remember: false }).subarray(0, 30),
  ];
  for (const msg of bad) assert.throws(() => decodeUnlockBody(splitExtension(msg).body), WireError);
});

test('forget-pin@tt-agent round trip', () => {
  const { name, body } = splitExtension(encodeForgetPinRequest({ selector: 'pkcs11:serial=42', keyring: true }));
  assert.equal(name, FORGET_PIN_EXTENSION);
  assert.deepEqual(decodeForgetPinBody(body), { selector: 'pkcs11:serial=42', keyring: true });
});

test('selectors: label, serial, pkcs11: URI attributes, blank-padded token info', () => {
  const tok = { label: 'work card                       ', serial: '0123abcd        ', manufacturer: 'piv_II', model: 'PKCS#15 emulated' };
  assert.ok(tokenMatches(parseTokenSelector('work card'), tok));
  assert.ok(tokenMatches(parseTokenSelector('0123abcd'), tok));
  assert.ok(tokenMatches(parseTokenSelector('pkcs11:token=work%20card;serial=0123abcd?module-path=/x.so'), tok));
  assert.ok(tokenMatches(parseTokenSelector('pkcs11:model=PKCS%2315%20emulated'), tok));
  assert.ok(!tokenMatches(parseTokenSelector('pkcs11:token=work%20card;serial=99'), tok));
  assert.ok(!tokenMatches(parseTokenSelector('work'), tok));
  assert.ok(tokenMatches(parseTokenSelector(''), tok));
});

test('the agent dispatch: unlock supplies the named token, forget-pin drops it, others are not ours', async (t) => {
  const broker = new PinBroker({ pinentry: false, unlockWaitMs: 0 });
  t.after(() => broker.close());
  const a = { label: 'alpha', serial: '1' };
  const b = { label: 'beta', serial: '2' };
  broker.tokenPresent(a);
  broker.tokenPresent(b);

  const ambiguous = splitExtension(encodeUnlockRequest({ selector: '', pin: Buffer.from('1111'), remember: false }));
  const r0 = decodePinReply((await handlePinExtension(broker, ambiguous.name, ambiguous.body))!, UNLOCK_EXTENSION);
  assert.equal(r0?.ok, false, 'two tokens and no selector: refused, not guessed');

  const m = splitExtension(encodeUnlockRequest({ selector: 'beta', pin: Buffer.from('2222'), remember: false }));
  const r1 = decodePinReply((await handlePinExtension(broker, m.name, m.body))!, UNLOCK_EXTENSION);
  assert.deepEqual(r1, { ok: true, message: 'PIN handed to the agent for token "beta" (serial 2)' });
  assert.equal((await broker.getPin(b))?.toString(), '2222');
  assert.equal(await broker.getPin(a), null);

  const f = splitExtension(encodeForgetPinRequest({ selector: 'pkcs11:serial=2', keyring: true }));
  const r2 = decodePinReply((await handlePinExtension(broker, f.name, f.body))!, FORGET_PIN_EXTENSION);
  assert.equal(r2?.ok, true);
  assert.equal(await broker.getPin(b), null, 'forgotten');

  assert.equal(await handlePinExtension(broker, 'status@tt-agent', Buffer.alloc(0)), null);
  assert.equal(decodePinReply(Buffer.of(5), UNLOCK_EXTENSION), null, 'SSH_AGENT_FAILURE: not supported');
});
