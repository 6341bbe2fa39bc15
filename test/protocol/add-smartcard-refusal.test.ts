// The add-smartcard@tt-agent refusal carries the agent's hint after its reason. Both directions
// of a version skew still read: an older client (which read the reason and stopped) gets the
// reason from a newer agent, and a newer client gets no hint, not an error, from an older agent.
import assert from 'node:assert/strict';
import test from 'node:test';
import { ADD_SMARTCARD_EXTENSION, decodeAddSmartcardRefusal, encodeAddSmartcardRefusal } from '../../src/protocol/add-smartcard-extension';
import { SSH_AGENT_EXTENSION_RESPONSE } from '../../src/protocol/message-numbers';
import { SshReader, SshWriter } from '../../src/protocol/wire';

const reason = "no token matches pkcs11:token=tt (tokens: 't')";
const hint = 'Check the token=/serial= parts of the URI against: tt-agent list /usr/lib/softhsm/libsofthsm2.so';

test('reason and hint go through', () => {
  assert.deepEqual(decodeAddSmartcardRefusal(encodeAddSmartcardRefusal({ reason, hint })), { reason, hint });
  assert.deepEqual(decodeAddSmartcardRefusal(encodeAddSmartcardRefusal({ reason })), { reason });
});

test("an older client's reading (extension name, reason, nothing after) still finds the reason", () => {
  const r = new SshReader(encodeAddSmartcardRefusal({ reason, hint }));
  assert.equal(r.uint8(), SSH_AGENT_EXTENSION_RESPONSE);
  assert.equal(r.stringUtf8(), ADD_SMARTCARD_EXTENSION);
  assert.equal(r.stringUtf8('reason', true), reason);
});

test("an older agent's reply (reason only) reads as a refusal without a hint", () => {
  const old = new SshWriter().uint8(SSH_AGENT_EXTENSION_RESPONSE).string(ADD_SMARTCARD_EXTENSION).string(reason).toBuffer();
  assert.deepEqual(decodeAddSmartcardRefusal(old), { reason });
});

test('a hint that does not read leaves the reason standing', () => {
  const truncated = Buffer.concat([encodeAddSmartcardRefusal({ reason }), Buffer.from([0, 0, 0, 9, 0x41])]);
  assert.deepEqual(decodeAddSmartcardRefusal(truncated), { reason });
});
