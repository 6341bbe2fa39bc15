// A module host stuck in a signature whose card left its reader is replaced at once, not
// after the sign watchdog. The module is the rogue fixture (SoftHSM underneath) hanging in
// C_Sign; with TT_ROGUE_PCSC it maps libpcsclite as OpenSC and ykcs11 do, which is what makes
// the agent watch its readers. The reader pcscd would report on is played by the test; the
// same path against the real pcscd and a pulled card is test/e2e/reader-watch.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { HostCrashedError, HostTimeoutError } from '../../src/host/host-errors';
import { createHostProvider } from '../../src/host/host-provider';
import type { PcscReaderState } from '../../src/native';
import { buildFixture, fixturesUnavailable, openTempDir } from '../hardening/helpers';
import { makeToken } from '../helpers/softhsm';
import { quietPins } from './pins';
import { waitUntil } from '../helpers/wait';
import { verifySshSignature } from './verify';

const skip = fixturesUnavailable();

function setup(t: test.TestContext, opts: { pcsc: boolean; signTimeoutMs: number }) {
  const dir = openTempDir('tt-reader-');
  const tok = makeToken({ tokens: [{ label: 'card', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'card-p256' }] }], setEnv: false });
  const lib = buildFixture('rogue-pkcs11', dir);
  const control = path.join(dir, 'control');
  fs.writeFileSync(control, 'ok\n');
  const reader = { state: { known: true, present: true, events: 7 } as PcscReaderState, asked: [] as string[] };
  const logs: string[] = [];
  const env: NodeJS.ProcessEnv = { ...tok.env, TT_ROGUE_SOFTHSM2_CONF: tok.conf, TT_ROGUE_CONTROL: control };
  if (opts.pcsc) env.TT_ROGUE_PCSC = '1';
  const provider = createHostProvider(lib, {
    pins: quietPins(),
    env,
    signTimeoutMs: opts.signTimeoutMs,
    log: (_l, m) => logs.push(m),
    readReader: async (name) => {
      reader.asked.push(name);
      return { ...reader.state };
    },
  });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { provider, control, reader, logs, pin: tok.pin };
}

test('a signature stuck after its card left the reader fails within a second, and the host is replaced', { skip, timeout: 60_000 }, async (t) => {
  const s = setup(t, { pcsc: true, signTimeoutMs: 30_000 });
  const { identities } = await s.provider.load(Buffer.from(s.pin));
  const key = identities[0];
  verifySshSignature(key.publicKey, Buffer.from('before'), await s.provider.sign(key.blob, Buffer.from('before'), 0));
  assert.ok(s.reader.asked.length > 0, 'the reader of a module that maps libpcsclite is watched');
  assert.match(s.reader.asked[0], /^SoftHSM slot ID 0x/, "the reader's name is the key's slot description");
  const pid = (await s.provider.status()).host!.pid;

  fs.writeFileSync(s.control, 'hang\n');
  const started = Date.now();
  const stuck = s.provider.sign(key.blob, Buffer.from('stuck'), 0);
  const outcome = stuck.then(
    () => undefined,
    (e: Error) => e,
  );
  // Still waiting while the card stays: the watch is not a short watchdog.
  const asked = s.reader.asked.length;
  await waitUntil(() => s.reader.asked.length >= asked + 3, 10_000, 'three looks at the reader');
  assert.equal(await Promise.race([outcome.then(() => 'settled'), new Promise((r) => setTimeout(() => r('pending'), 50))]), 'pending');
  s.reader.state = { known: true, present: false, events: 8 };
  const pulled = Date.now();
  const err = await outcome;
  const took = Date.now() - pulled;
  assert.ok(err instanceof HostCrashedError, `the signature fails as a lost host: ${err}`);
  assert.match(err.message, /the card in reader "SoftHSM slot ID 0x[0-9a-f]+" was pulled out during a signature/);
  assert.ok(took < 1500, `failed ${took} ms after pcscd saw the card go (sign timeout 30 s)`);
  t.diagnostic(`stuck signature failed ${took} ms after the card left, ${Date.now() - started} ms after it began`);
  assert.ok(s.logs.some((l) => l.includes('was pulled out during a signature')), s.logs.join('\n'));
  // SIGKILL was sent as the signature failed; the exit follows within moments.
  const gone = () => {
    try {
      return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true;
    }
  };
  await waitUntil(gone, 5000, 'the stuck host to be killed');

  fs.writeFileSync(s.control, 'ok\n');
  s.reader.state = { known: true, present: true, events: 9 };
  verifySshSignature(key.publicKey, Buffer.from('after'), await s.provider.sign(key.blob, Buffer.from('after'), 0));
  assert.equal((await s.provider.status()).restarts, 1);
});

test('a stuck signature whose card stays in its reader is left to the sign watchdog', { skip, timeout: 60_000 }, async (t) => {
  const s = setup(t, { pcsc: true, signTimeoutMs: 1500 });
  const { identities } = await s.provider.load(Buffer.from(s.pin));
  fs.writeFileSync(s.control, 'hang\n');
  const started = Date.now();
  await assert.rejects(s.provider.sign(identities[0].blob, Buffer.from('stuck'), 0), HostTimeoutError);
  assert.ok(Date.now() - started >= 1400, 'not cut short: a touch or a PIN pad may take that long');
  assert.ok(s.reader.asked.length >= 3, 'the reader was watched all along');
});

test('the readers of a module that does not talk to pcscd are never asked about', { skip, timeout: 60_000 }, async (t) => {
  const s = setup(t, { pcsc: false, signTimeoutMs: 1500 });
  const { identities } = await s.provider.load(Buffer.from(s.pin));
  for (let i = 0; i < 3; i++) await s.provider.sign(identities[0].blob, Buffer.from(`x${i}`), 0);
  fs.writeFileSync(s.control, 'hang\n');
  await assert.rejects(s.provider.sign(identities[0].blob, Buffer.from('stuck'), 0), HostTimeoutError);
  assert.deepEqual(s.reader.asked, []);
});
