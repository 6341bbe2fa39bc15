// PIN handling of the module host: a wrong PIN stops at the first token that rejects it, so
// the other tokens' retry counters stay untouched (judged by pkcs11-tool, not by our code);
// a pkcs11: URI selects the token; no PIN loads keys from public objects only.
import assert from 'node:assert/strict';
import test from 'node:test';
import { createHostProvider } from '../../src/host/host-provider';
import { quietPins } from './pins';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { verifySshSignature } from './verify';

/** Token label → its flags line as pkcs11-tool -L prints it. */
function tokenFlags(tok: TestToken): Map<string, string> {
  const out = tok.pkcs11Tool(['-L']);
  const flags = new Map<string, string>();
  let label = '';
  for (const line of out.split('\n')) {
    const l = /token label\s*:\s*(.*)$/.exec(line);
    if (l) label = l[1].trim();
    const f = /token flags\s*:\s*(.*)$/.exec(line);
    if (f && label) flags.set(label, f[1]);
  }
  return flags;
}

test('a wrong PIN stops at the first token and never reaches the second', { timeout: 60_000 }, async (t) => {
  const tok = makeToken({ tokens: 'twoTokens' });
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  for (const f of tokenFlags(tok).values()) assert.doesNotMatch(f, /count low/);

  const { identities, report } = await provider.load(Buffer.from('000000'));
  assert.equal(identities.length, 0);
  // Tokens are tried in slot order, whichever label that puts first.
  const [tried, skipped] = report.map((r) => r.token);
  assert.deepEqual(new Set([tried, skipped]), new Set(['first', 'second']));
  assert.equal(report[0].error?.ckr, 'CKR_PIN_INCORRECT');
  assert.match(report[0].error!.message, new RegExp(`^PIN incorrect for token ${tried} \\(few tries left\\)$`));
  assert.equal(report[1].error?.ckr, undefined);
  assert.match(report[1].error!.message, new RegExp(`not tried: the PIN was incorrect for token ${tried}`));

  const flags = tokenFlags(tok);
  assert.match(flags.get(tried)!, /user PIN count low/, 'the first token counted the wrong PIN');
  assert.doesNotMatch(flags.get(skipped)!, /count low/, "the second token's counter was not touched");

  // Typing the right PIN afterwards works, on both tokens.
  const again = await provider.load(Buffer.from(tok.pin));
  assert.deepEqual(
    again.report.map((r) => [r.added, r.error]),
    [
      [1, undefined],
      [1, undefined],
    ],
  );
  assert.doesNotMatch(tokenFlags(tok).get(tried)!, /count low/, 'a good login resets the counter');
});

test('a pkcs11: URI selects one token of the module', { timeout: 60_000 }, async (t) => {
  const tok = makeToken({ tokens: 'twoTokens' });
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities, report } = await provider.load(Buffer.from(tok.pin), 'pkcs11:token=second');
  assert.deepEqual(report.map((r) => r.token), ['second']);
  assert.deepEqual(identities.map((i) => [i.comment, i.token]), [['second-p256', 'second']]);
  const data = Buffer.from('only the second token');
  verifySshSignature(identities[0].publicKey, data, await provider.sign(identities[0].blob, data, 0));

  await assert.rejects(provider.load(Buffer.from(tok.pin), 'pkcs11:token=third'), /no token matches pkcs11:token=third \(tokens: .*'first'.*\)/);
});

test('without a PIN, keys come from public objects and signing says the PIN is needed', { timeout: 60_000 }, async (t) => {
  const tok = makeToken();
  // Nobody to ask: no askpass, no pinentry, no wait for `tt-agent unlock`.
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities, report } = await provider.load(null);
  assert.equal(report[0].error, undefined);
  const labels = identities.map((i) => i.comment);
  // The certificate-only key carries its subject, as OpenSSH names it.
  for (const l of ['rsa2048', 'p256', 'p384', 'ed25519', '/CN=cert-only']) assert.ok(labels.includes(l), `${l} listed from public objects`);
  await assert.rejects(provider.sign(identities[0].blob, Buffer.from('x'), 0), /token tt-test needs its PIN before it can sign/);
  // Adding again with the PIN makes the same keys sign.
  await provider.load(Buffer.from(tok.pin));
  const p256 = identities.find((i) => i.comment === 'p256')!;
  verifySshSignature(p256.publicKey, Buffer.from('y'), await provider.sign(p256.blob, Buffer.from('y'), 0));
});

test('adding a logged-in token again with another PIN is refused, not silently accepted', { timeout: 60_000 }, async (t) => {
  const tok = makeToken();
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const first = await provider.load(Buffer.from(tok.pin));
  assert.equal(first.report[0].error, undefined);
  // The token is logged in for the whole module: C_Login would say CKR_USER_ALREADY_LOGGED_IN.
  const wrong = await provider.load(Buffer.from('999999'));
  assert.match(wrong.report[0].error?.message ?? '', /already logged in with a different PIN/);
  const again = await provider.load(Buffer.from(tok.pin));
  assert.equal(again.report[0].error, undefined);
  const p256 = again.identities.find((i) => i.comment === 'p256')!;
  verifySshSignature(p256.publicKey, Buffer.from('z'), await provider.sign(p256.blob, Buffer.from('z'), 0));
});
