// A module host replaced while its token was out: the sign watchdog kills a host stuck in
// C_Sign (OpenSC behind p11-kit-proxy deadlocks on a card pulled mid-signature), and the new
// host loads while the token is still away, so it has none of the token's keys. Once the
// token is back, the next signature loads it again and signs, logging in with the PIN the
// broker kept. The token comes and goes through the rogue fixture module: SoftHSM underneath,
// with no slot at all while its control file says "absent".
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { HostTimeoutError } from '../../src/host/host-errors';
import { createHostProvider } from '../../src/host/host-provider';
import { buildFixture, fixturesUnavailable, openTempDir } from '../hardening/helpers';
import { makeToken } from '../helpers/softhsm';
import { quietPins } from './pins';
import { verifySshSignature } from './verify';

const skip = fixturesUnavailable();

test('a host restarted while its token is out loads the token again when a signature needs it', { skip, timeout: 60_000 }, async (t) => {
  const dir = openTempDir('tt-reload-');
  const tok = makeToken({ tokens: [{ label: 'card', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'card-p256' }] }], setEnv: false });
  const lib = buildFixture('rogue-pkcs11', dir);
  const control = path.join(dir, 'control');
  fs.writeFileSync(control, 'ok\n');
  const logs: string[] = [];
  const provider = createHostProvider(lib, {
    pins: quietPins(),
    env: { ...tok.env, TT_ROGUE_SOFTHSM2_CONF: tok.conf, TT_ROGUE_CONTROL: control },
    signTimeoutMs: 1000,
    log: (_l, m) => logs.push(m),
  });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { identities } = await provider.load(Buffer.from(tok.pin));
  assert.equal(identities.length, 1);
  const key = identities[0];
  const sign = async (what: string) => {
    const data = Buffer.from(what);
    verifySshSignature(key.publicKey, data, await provider.sign(key.blob, data, 0));
  };
  await sign('before');

  // Stuck in C_Sign: the watchdog kills the host. The token is out when the next one starts.
  fs.writeFileSync(control, 'hang\n');
  await assert.rejects(provider.sign(key.blob, Buffer.from('stuck'), 0), HostTimeoutError);
  fs.writeFileSync(control, 'absent\n');
  await assert.rejects(provider.sign(key.blob, Buffer.from('while out'), 0), /no key with this public key is loaded/);
  assert.equal((await provider.status()).restarts, 1);
  assert.equal((await provider.status()).host!.tokens.length, 0, 'the new host found no token');

  fs.writeFileSync(control, 'ok\n');
  const back = Date.now();
  let error: unknown;
  for (;;) {
    try {
      await sign('after');
      break;
    } catch (err) {
      // A reload runs at most every 250 ms: one that just ran while the token was out
      // turns the next signature away at once.
      error = err;
      assert.ok(Date.now() - back < 5000, `no signature within 5 s of the token's return: ${error}\n${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  assert.ok(logs.some((l) => /loaded .* again for a key the module host had not got: 1 key/.test(l)), logs.join('\n'));
  // Finding no token while it was out is an empty load, not an error line per signature.
  assert.deepEqual(logs.filter((l) => /again .* failed/.test(l)), [], 'no error logged for a load that found no token');
  const host = (await provider.status()).host!;
  assert.equal(host.tokens.length, 1);
  assert.equal(host.tokens[0].loggedIn, true, 'logged in with the PIN the broker kept');
  assert.equal((await provider.status()).restarts, 1, 'no further restart');
});

test('a key that no load of the module reported is not loaded again', { skip, timeout: 60_000 }, async (t) => {
  const tok = makeToken({ tokens: 'twoTokens' });
  const logs: string[] = [];
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env, log: (_l, m) => logs.push(m) });
  const other = createHostProvider(tok.module, { pins: quietPins(), env: tok.env });
  t.after(async () => {
    await provider.close();
    await other.close();
    tok.cleanup();
  });
  await provider.load(Buffer.from(tok.pin), 'pkcs11:token=first');
  const { identities } = await other.load(Buffer.from(tok.pin), 'pkcs11:token=second');
  await assert.rejects(provider.sign(identities[0].blob, Buffer.from('x'), 0), /no key with this public key is loaded/);
  assert.deepEqual(logs.filter((l) => /again/.test(l)), []);
});

test("a token found again after the host was replaced while it was out stops the broker's absence clock", { skip, timeout: 60_000 }, async (t) => {
  const dir = openTempDir('tt-reload-');
  const tok = makeToken({ tokens: [{ label: 'card', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'card-p256' }] }], setEnv: false });
  const lib = buildFixture('rogue-pkcs11', dir);
  const control = path.join(dir, 'control');
  fs.writeFileSync(control, 'ok\n');
  const pins = quietPins();
  const provider = createHostProvider(lib, { pins, env: { ...tok.env, TT_ROGUE_SOFTHSM2_CONF: tok.conf, TT_ROGUE_CONTROL: control } });
  t.after(async () => {
    await provider.close();
    pins.close();
    tok.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { identities } = await provider.load(Buffer.from(tok.pin));
  const key = identities[0];
  const absent = () => pins.status().find((s) => s.token.label === 'card')?.absent;
  fs.writeFileSync(control, 'absent\n');
  // The host's presence watch notices and tells the broker, whose clock starts.
  await waitFor(() => absent() === true, 'the broker hears the token is out');
  const pid = (await provider.status()).host!.pid;
  process.kill(pid, 'SIGKILL');
  // A status asked just as the host dies fails with it; the next one says it is not running.
  await waitFor(() => provider.status().then((s) => !s.running, () => false), 'the provider notices the host is gone');
  await assert.rejects(provider.sign(key.blob, Buffer.from('while out'), 0), /no key with this public key is loaded/);
  fs.writeFileSync(control, 'ok\n');
  await waitFor(
    () => provider.sign(key.blob, Buffer.from('back'), 0).then(() => true, () => false),
    'a signature once the token is back',
  );
  assert.equal(absent(), false, 'the absence clock stopped');
});

async function waitFor(cond: () => boolean | undefined | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    assert.ok(Date.now() < end, `timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
