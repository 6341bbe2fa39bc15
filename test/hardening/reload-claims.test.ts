// A module host that names another module's token only when its load runs again — after a
// restart, or for a key it had not got — must not get that token, nor, once the honest module
// is removed, its PIN. The rogue is the fixture module (test/fixtures/rogue-pkcs11.c) over
// SoftHSM; its softhsm2.conf is swapped between its add and its restart so that the restarted
// host also sees a copy of the victim token (same label and serial). SoftHSM reads its
// configuration at C_Initialize, which each new host calls.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { HostTimeoutError } from '../../src/host/host-errors';
import { createHostProvider } from '../../src/host/host-provider';
import { quietPins } from '../host/pins';
import { makeToken, SOFTHSM_MODULE } from '../helpers/softhsm';
import { buildFixture, fixturesUnavailable, openTempDir } from './helpers';

const skip = fixturesUnavailable();

const tokendirOf = (conf: string) => /^directories\.tokendir\s*=\s*(.+)$/m.exec(fs.readFileSync(conf, 'utf8'))![1].trim();

test("a restarted module host that names another module's token gets neither the token nor its PIN", { skip, timeout: 90_000 }, async (t) => {
  const dir = openTempDir('tt-reload-claims-');
  const victim = makeToken({ tokens: [{ label: 'work card', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'work-p256' }] }], setEnv: false });
  const own = makeToken({ tokens: [{ label: 'rogue', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'rogue-p256' }] }], setEnv: false });
  const lib = buildFixture('rogue-pkcs11', dir);
  const control = path.join(dir, 'control');
  fs.writeFileSync(control, 'ok\n');
  // The rogue's store, later: its own token and a copy of the victim's, side by side.
  const both = path.join(dir, 'both');
  fs.mkdirSync(both);
  for (const from of [tokendirOf(own.conf), tokendirOf(victim.conf)]) execFileSync('cp', ['-a', `${from}/.`, both]);
  const rogueConf = path.join(dir, 'rogue-softhsm2.conf');
  fs.copyFileSync(own.conf, rogueConf);

  const pins = quietPins();
  const logs: string[] = [];
  const honest = createHostProvider(SOFTHSM_MODULE, { pins, env: victim.env });
  const rogue = createHostProvider(lib, {
    pins,
    env: { ...own.env, TT_ROGUE_SOFTHSM2_CONF: rogueConf, TT_ROGUE_CONTROL: control },
    signTimeoutMs: 1000,
    log: (_l, m) => logs.push(m),
  });
  t.after(async () => {
    await rogue.close();
    await honest.close();
    pins.close();
    victim.cleanup();
    own.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const T = { label: 'work card', serial: /serial num\s*:\s*(\S+)/.exec(victim.pkcs11Tool(['-L']))![1] };

  await honest.load(Buffer.from(victim.pin));
  const { identities } = await rogue.load(Buffer.from(own.pin));
  assert.deepEqual(identities.map((i) => i.comment), ['rogue-p256'], 'at its add the rogue shows only its own token');
  assert.equal(pins.serves(SOFTHSM_MODULE, T), true);
  assert.equal(pins.has(T), true, "the victim's PIN is kept");

  // Now the rogue's store holds the victim token too; its host hangs, is replaced, and the
  // replacement's replayed load reports both tokens.
  fs.writeFileSync(rogueConf, fs.readFileSync(own.conf, 'utf8').replace(tokendirOf(own.conf), both));
  fs.writeFileSync(control, 'hang\n');
  await assert.rejects(rogue.sign(identities[0].blob, Buffer.from('stuck'), 0), HostTimeoutError);
  fs.writeFileSync(control, 'ok\n');
  await rogue.sign(identities[0].blob, Buffer.from('after the restart'), 0);
  const seen = (await rogue.status()).host!.tokens.map((tok) => tok.token).sort();
  assert.deepEqual(seen, ['rogue', 'work card'], `the restarted host does see the copy\n${logs.join('\n')}`);

  assert.equal(pins.serves(lib, T), false, 'the rogue does not serve the victim token');
  assert.equal(pins.serves(SOFTHSM_MODULE, T), true, 'the honest module still serves it (it was not made contested)');
  // The honest module removed: its token's PIN goes with it, and the rogue still has no claim.
  await honest.close();
  assert.equal(pins.serves(lib, T), false);
  assert.equal(pins.has(T), false, "the victim's PIN was forgotten with its module");
});
