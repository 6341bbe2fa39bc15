// Every kind of token a user may hold, each through its own module, tested the same way:
// `tt-agent pubkey` equals `ssh-keygen -D`, `tt-agent add` and `ssh-add -s` load the keys,
// `ssh-keygen -Y sign` through the agent verifies, a real ssh login works with every key,
// `tt-agent list` and `status` read right; then OpenSSH's ssh-agent on the same token for the
// timings (printed as test diagnostics). Plus a card pulled during signing behind
// p11-kit-proxy, and module-host restarts on a TPM. Fixtures: test/helpers/{p11kit,
// opencryptoki,tpm,vcard}.ts. Needs root and `npm run build` first.
import assert from 'node:assert/strict';
import test from 'node:test';
import { TT_AGENT_BIN } from '../helpers/agent';
import { makeOpencryptokiToken, ockSkipReason } from '../helpers/opencryptoki';
import { makeP11KitView, p11kitSkipReason } from '../helpers/p11kit';
import { makeToken, SOFTHSM_MODULE } from '../helpers/softhsm';
import { run, startSshd, type Sshd } from '../helpers/sshd';
import { makeTpmToken, tpmSkipReason } from '../helpers/tpm';
import { startVcard, vcardSkipReason, VCARD_PIN } from '../helpers/vcard';
import { comparePubkey, exerciseOpenSsh, exerciseTtAgent, inside, lines, signAndVerify, type Subject, type Timings } from './matrix-steps';
import { pullDuringSigning, restartHost } from './matrix-faults';

export const YKCS11_MODULE = '/usr/lib/x86_64-linux-gnu/libykcs11.so';

let sshd: Sshd;
test.before(async () => {
  sshd = await startSshd();
});
test.after(() => sshd.stop());

const fmt = (x: Timings) =>
  `add ${x.add.toFixed(0)} ms${x.sshAddS === undefined ? '' : ` (ssh-add -s ${x.sshAddS.toFixed(0)} ms)`}, ` +
  `first signature ${x.firstSignature.toFixed(0)} ms, login ${x.login.toFixed(0)} ms`;

async function matrix(t: test.TestContext, s: Subject) {
  const want = await comparePubkey(s);
  const ours = await exerciseTtAgent(t, s, sshd, want);
  const theirs = await exerciseOpenSsh(t, s, sshd, want);
  t.diagnostic(`${s.name}: tt-agent ${fmt(ours.timings)} | OpenSSH ssh-agent ${fmt(theirs)}`);
  return ours;
}

test('p11-kit-proxy in front of SoftHSM: RSA-2048 and P-256', { skip: p11kitSkipReason(), timeout: 120_000 }, async (t) => {
  const tok = makeToken({
    setEnv: false,
    tokens: [{ label: 'proxied', keys: [{ kind: 'rsa:2048', id: '01', label: 'rsa2048' }, { kind: 'ec:prime256v1', id: '02', label: 'p256' }] }],
  });
  t.after(() => tok.cleanup());
  const view = await makeP11KitView({ 'tt-softhsm': SOFTHSM_MODULE });
  t.after(() => view.cleanup());
  const s: Subject = { name: 'p11-kit-proxy', module: view.module, pin: tok.pin, env: tok.env, wrap: view.ns.wrap, keyTypes: ['ssh-rsa', 'ecdsa-sha2-nistp256'], tokenLabel: 'proxied' };
  const { env } = await matrix(t, s);
  // The host is handed the proxy's realpath (libp11-kit.so.0.x); it is serialized all the same.
  const status = JSON.parse((await run(process.execPath, [TT_AGENT_BIN, 'status', '--json'], { env })).stdout);
  assert.equal(status.modules[0].host.serialized, true, JSON.stringify(status.modules[0]));
  assert.equal(status.modules[0].modulePath ?? view.realModule, view.realModule);
});

test('opencryptoki soft token: RSA-2048 (its 3.8 soft token has no EC)', { skip: ockSkipReason(), timeout: 120_000 }, async (t) => {
  const ock = await makeOpencryptokiToken();
  t.after(() => ock.cleanup());
  const s: Subject = { name: 'opencryptoki', module: ock.module, pin: ock.pin, env: process.env, wrap: ock.ns.wrap, keyTypes: ['ssh-rsa'], tokenLabel: ock.label };
  await matrix(t, s);
  // opencryptoki pads CK_SLOT_INFO with NULs: they are gone, and slot-description= matches.
  const json = await inside(s, process.execPath, [TT_AGENT_BIN, 'list', ock.module, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.ok(!json.stdout.includes('\\u0000'), json.stdout);
  assert.equal(JSON.parse(json.stdout).tokens[0].slot, 'Linux');
  const bySlot = await inside(s, process.execPath, [TT_AGENT_BIN, 'pubkey', `pkcs11:slot-description=Linux?module-path=${ock.module}`]);
  assert.equal(bySlot.code, 0, bySlot.stderr);
  assert.equal(lines(bySlot.stdout).length, 1);
});

test('tpm2-pkcs11 through tpm2-abrmd: RSA-2048 and P-256; a killed module host comes back', { skip: tpmSkipReason(), timeout: 150_000 }, async (t) => {
  const tpm = await makeTpmToken();
  t.after(() => tpm.cleanup());
  const s: Subject = { name: 'tpm2-pkcs11', module: tpm.module, pin: tpm.pin, env: tpm.env, keyTypes: ['ssh-rsa', 'ecdsa-sha2-nistp256'], tokenLabel: tpm.label };
  const { agent, env } = await matrix(t, s);
  // tpm2-pkcs11's spare slot has no description: it is named by its number.
  const list = await run(process.execPath, [TT_AGENT_BIN, 'list', tpm.module], { env: tpm.env });
  assert.match(list.stdout, /^slot \d+: token not initialized \(skipped\)$/m, list.stdout);
  // tpm2-abrmd flushes a dead client's objects: SIGKILL costs nothing here.
  const key = lines((await run('ssh-add', ['-L'], { env })).stdout)[0]!;
  for (let i = 0; i < 3; i++) {
    await restartHost(env, 'SIGKILL');
    await signAndVerify(agent.dir, env, key, `tpm-after-kill-${i}`).catch((err) => assert.fail(`${err}\n${agent.log().slice(-2000)}`));
  }
});

test('tpm2-pkcs11 on a direct TCTI: hosts that exit in order leave the TPM clean; leaked contexts are explained', { skip: tpmSkipReason(), timeout: 120_000 }, async (t) => {
  const tpm = await makeTpmToken({ via: 'direct' });
  t.after(() => tpm.cleanup());
  const s: Subject = { name: 'tpm2-pkcs11 (direct)', module: tpm.module, pin: tpm.pin, env: tpm.env, keyTypes: ['ssh-rsa', 'ecdsa-sha2-nistp256'], tokenLabel: tpm.label };
  const want = await comparePubkey(s);
  const { agent, env } = await exerciseTtAgent(t, s, sshd, want);
  const why = () => agent.log().slice(-2500);
  // SIGTERM (systemd stopping the agent, a logout) finalizes: the TPM's three object slots never fill.
  for (let i = 0; i < 4; i++) {
    await restartHost(env, 'SIGTERM');
    await signAndVerify(agent.dir, env, want[0]!, `tpm-direct-term-${i}`).catch((err) => assert.fail(`${err}\n${why()}`));
  }
  // Two SIGKILLs leave two hosts' objects behind; the next login fails and says why and what to do.
  await restartHost(env, 'SIGKILL');
  await signAndVerify(agent.dir, env, want[0]!, 'tpm-direct-kill-1').catch((err) => assert.fail(`${err}\n${why()}`));
  await restartHost(env, 'SIGKILL');
  await signAndVerify(agent.dir, env, want[0]!, 'tpm-direct-kill-2').then(
    () => assert.fail('signing was expected to fail on a TPM full of leaked objects'),
    () => undefined,
  );
  const status = await run(process.execPath, [TT_AGENT_BIN, 'status'], { env });
  assert.match(status.stdout, /the TPM is full of objects an earlier process left loaded.*tpm2_flushcontext -t/s, status.stdout);
  // The advice works: remove, flush, add again.
  assert.equal((await run(process.execPath, [TT_AGENT_BIN, 'remove', tpm.module], { env })).code, 0);
  for (const flag of ['-t', '-s']) {
    const f = await run('tpm2_flushcontext', [flag], { env: tpm.toolsEnv });
    assert.equal(f.code, 0, f.stderr);
  }
  const again = await run(process.execPath, [TT_AGENT_BIN, 'add', tpm.module], { env });
  assert.equal(again.code, 0, `${again.stderr}\n${why()}`);
  await signAndVerify(agent.dir, env, want[0]!, 'tpm-direct-flushed');
});

test('ykcs11 on the emulated PIV card: RSA-2048 (9a) and P-256 (9c, PIN always)', { skip: vcardSkipReason(), timeout: 150_000 }, async (t) => {
  const card = await startVcard();
  t.after(() => card.down());
  const s: Subject = {
    name: 'ykcs11',
    module: YKCS11_MODULE,
    pin: VCARD_PIN,
    env: card.env,
    keyTypes: ['ssh-rsa', 'ecdsa-sha2-nistp256'],
    tokenLabel: 'YubiKey PIV #12345678',
    openSshCannotSign: ['Public key for Digital Signature'],
  };
  await matrix(t, s);
});

// Behind the proxy OpenSC may deadlock when a signature meets the removal (p11-kit always
// initialises it with CKF_OS_LOCKING_OK): the agent sees through pcscd that the card left and
// replaces the module host (src/host/reader-watch.ts), and the new host, started while the
// card is out, has none of its keys until a signature naming one loads the card again
// (src/host/load-replay.ts).
test('p11-kit-proxy in front of OpenSC: card pulled during signing, no hang, signing again within 2 s', { skip: vcardSkipReason() || p11kitSkipReason(), timeout: 150_000 }, async (t) => {
  const card = await startVcard();
  t.after(() => card.down());
  await pullDuringSigning(t, card);
});
