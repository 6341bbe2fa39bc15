// A module stuck in a signature when the card is pulled, on the real stack: the module host →
// the rogue fixture (forwarding to opensc-pkcs11.so, hanging in C_Sign while told to, as
// OpenSC 0.23 itself does behind p11-kit-proxy now and then) → pcscd → the emulated card. The
// agent runs with its default 30 s sign watchdog; it must see through pcscd that the card left
// the key's reader and fail the signature within 2 s of the pull, then sign again within 2 s of
// the re-insertion. Needs root and `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { startAgent } from '../helpers/agent';
import { run } from '../helpers/sshd';
import { startVcard, vcardSkipReason, VCARD_PIN, writeAskpass } from '../helpers/vcard';
import { pcscReaderState } from '../../src/native';
import { buildFixture, openTempDir } from '../hardening/helpers';
import { waitUntil } from '../helpers/wait';
import { lines, signAndVerify } from './matrix-steps';

const skip = vcardSkipReason();

test('a signature stuck when the card is pulled fails within 2 s under the default watchdog, and signing resumes within 2 s of re-insertion', { skip, timeout: 120_000 }, async (t) => {
  const card = await startVcard();
  t.after(() => card.down());
  const dir = openTempDir('tt-reader-card-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lib = buildFixture('rogue-pkcs11', dir);
  const control = path.join(dir, 'control');
  fs.writeFileSync(control, 'ok\n');
  const agentEnv: NodeJS.ProcessEnv = { ...card.env, TT_WRAPPED_MODULE: card.module, TT_ROGUE_CONTROL: control };
  delete agentEnv.TT_AGENT_SIGN_TIMEOUT_MS;
  const agent = await startAgent({ args: ['-P', `${dir}/*`], env: agentEnv });
  t.after(() => agent.stop());
  const askpass = writeAskpass(agent.dir, 'pin', VCARD_PIN);
  const env = { ...agent.env, SSH_ASKPASS: askpass.file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  const add = await run('ssh-add', ['-s', lib], { env, timeoutMs: 60_000 });
  assert.equal(add.code, 0, `${add.stderr}\n${agent.log()}`);
  const rsa = lines((await run('ssh-add', ['-L'], { env })).stdout).find((l) => l.startsWith('ssh-rsa '));
  assert.ok(rsa, 'the 9a RSA key is loaded');
  await signAndVerify(agent.dir, env, rsa, 'before');

  fs.writeFileSync(control, 'hang\n');
  const stuck = signAndVerify(agent.dir, env, rsa, 'stuck').then(
    () => 'signed',
    (e: Error) => e.message,
  );
  await waitUntil(() => fs.existsSync(`${control}.hanging`), 20_000, 'the module to reach C_Sign').catch((err) => assert.fail(`${err}\n${agent.log()}`));
  const pulledAt = Date.now();
  const removed = card.remove();
  const outcome = await stuck;
  const failedAfter = Date.now() - pulledAt;
  await removed;
  assert.notEqual(outcome, 'signed');
  assert.ok(failedAfter < 2000, `the stuck signature failed ${failedAfter} ms after the pull (watchdog 30 s)\n${agent.log().slice(-3000)}`);
  const reader = /the card in reader "([^"]+)" was pulled out during a signature/.exec(agent.log())?.[1];
  assert.ok(reader, `the log names the reader\n${agent.log().slice(-3000)}`);
  // The addon's own view of that reader, from pcscd: no card, and a counter that moves.
  const out = await pcscReaderState(reader);
  assert.equal(out?.present, false, `pcscd reports the reader empty: ${JSON.stringify(out)}`);

  // A signature while the card is out starts the new host, which finds no card.
  fs.writeFileSync(control, 'ok\n');
  await assert.rejects(signAndVerify(agent.dir, env, rsa, 'while-out'));
  const insertedAt = Date.now();
  card.insert();
  let recoveredAfter = -1;
  while (recoveredAfter < 0) {
    const ok = await signAndVerify(agent.dir, env, rsa, 'back').then(
      () => true,
      () => false,
    );
    if (ok) recoveredAfter = Date.now() - insertedAt;
    else assert.ok(Date.now() - insertedAt < 10_000, `no signature within 10 s of re-insertion\n${agent.log().slice(-3000)}`);
  }
  const back = await pcscReaderState(reader);
  assert.equal(back?.present, true);
  assert.equal(back.events, out!.events + 1, 'one insertion counted since the removal');
  t.diagnostic(`stuck signature failed ${failedAfter} ms after the pull; signing again ${recoveredAfter} ms after re-insertion`);
  assert.ok(recoveredAfter <= 2000, `signing again within 2 s of re-insertion (took ${recoveredAfter} ms)`);
});
