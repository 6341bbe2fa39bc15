// PIN on demand and CKA_ALWAYS_AUTHENTICATE on the real stack (emulated PIV card, pcscd,
// opensc-pkcs11.so), judged by ssh logins and by the card's own PIN counter as pkcs11-tool
// reads it. The card is added without a PIN; the first signature asks through SSH_ASKPASS;
// the slot 9c key (PIN policy "always") asks for every signature; a wrong PIN there leaves
// the 9a key working; wrong PINs count down and the agent never spends the final try by
// itself, not even with the PIN it kept from before. Needs root and `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { startAgent, TT_AGENT_BIN } from '../helpers/agent';
import { run, sshLogin, startSshd } from '../helpers/sshd';
import { runTool, startVcard, vcardSkipReason, VCARD_PIN, writeAskpass } from '../helpers/vcard';

const skip = vcardSkipReason();

test('PIN on demand, the 9c always-authenticate key, wrong PINs and the final try', { skip, timeout: 110_000 }, async (t) => {
  const card = await startVcard();
  t.after(() => card.down());
  const scratch = fs.mkdtempSync(path.join(card.dir, 'askpass-'));
  const askpass = writeAskpass(scratch, 'agent', VCARD_PIN);
  // The agent asks through SSH_ASKPASS (forced: there is no display), for every 9c signature.
  const agent = await startAgent({
    env: { ...card.env, SSH_ASKPASS: askpass.file, SSH_ASKPASS_REQUIRE: 'force', TT_AGENT_CONTEXT_PIN: 'prompt', TT_AGENT_UNLOCK_WAIT: '0' },
  });
  t.after(() => agent.stop());
  const sshd = await startSshd();
  t.after(() => sshd.stop());

  const add = await runTool(process.execPath, [TT_AGENT_BIN, 'add', card.module, '--no-pin'], { env: agent.env, timeoutMs: 60_000 });
  assert.equal(add.code, 0, `${add.stdout}${add.stderr}\n${agent.log()}`);
  assert.deepEqual(askpass.prompts(), [], 'no PIN asked while adding');
  const list = await run('ssh-add', ['-L'], { env: agent.env });
  const rsa = list.stdout.split('\n').find((l) => l.startsWith('ssh-rsa '))!;
  const ec = list.stdout.split('\n').find((l) => l.startsWith('ecdsa-sha2-nistp256 '))!;
  assert.ok(rsa && ec, `both card keys listed from public objects:\n${list.stdout}`);
  const pub9a = path.join(scratch, '9a.pub');
  const pub9c = path.join(scratch, '9c.pub');
  fs.writeFileSync(pub9a, `${rsa}\n`);
  fs.writeFileSync(pub9c, `${ec}\n`);
  sshd.setAuthorizedKeys([rsa, ec]);
  const login = (pub: string) => sshLogin(sshd, { agentSock: agent.sock, identityFile: pub, command: 'echo logged-in', timeoutMs: 30_000 });
  const flags = () => card.tokenFlags();

  await t.test('the first signature asks for the PIN, naming the token', async () => {
    const r = await login(pub9a);
    assert.equal(r.code, 0, `${r.stderr}\n${agent.log()}`);
    assert.equal(askpass.prompts().length, 1);
    assert.match(askpass.prompts()[0], /^Enter PIN for token "PIVemu 9a" \(serial \w+\)/);
    // Logged in now: the next signature needs no PIN.
    assert.equal((await login(pub9a)).code, 0);
    assert.equal(askpass.prompts().length, 1);
  });

  await t.test('the 9c key asks for every signature (context-specific login)', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await login(pub9c);
      assert.equal(r.code, 0, `${r.stderr}\n${agent.log()}`);
    }
    const prompts = askpass.prompts().slice(1);
    assert.equal(prompts.length, 2, prompts.join('\n'));
    for (const p of prompts) assert.match(p, /^Enter PIN to sign once with key "SIGN (pub)?key" on token "PIVemu 9a"/);
  });

  await t.test('ssh-add -x logs the card out and seals the PIN: after ssh-add -X it signs without a prompt', async () => {
    // Before any wrong PIN: OpenSC keeps reporting CKF_USER_PIN_FINAL_TRY in a process that saw
    // one even after a right PIN reset the card's counter, and at the final try no kept PIN is used.
    const lock = await runTool('ssh-add', ['-x'], { env: { ...agent.env, SSH_ASKPASS: writeAskpass(scratch, 'lock', 'pass').file, SSH_ASKPASS_REQUIRE: 'force' } });
    assert.equal(lock.code, 0, lock.stderr);
    await agent.waitForLog('agent locked; kept PINs sealed', 5000);
    await agent.waitForLog('tokens logged out', 5000);
    const unlock = await runTool('ssh-add', ['-X'], { env: { ...agent.env, SSH_ASKPASS: writeAskpass(scratch, 'unlock', 'pass').file, SSH_ASKPASS_REQUIRE: 'force' } });
    assert.equal(unlock.code, 0, unlock.stderr);
    const asked = askpass.prompts().length;
    assert.equal((await login(pub9a)).code, 0, agent.log());
    assert.equal(askpass.prompts().length, asked, `the unsealed PIN logged the card in again, no prompt\n${agent.log().slice(-4000)}`);
  });

  await t.test('a wrong PIN for 9c leaves 9a signing, and is never retried', async () => {
    askpass.setAnswer('999999');
    for (let i = 0; i < 2; i++) {
      const asked = askpass.prompts().length;
      const bad = await login(pub9c);
      assert.notEqual(bad.code, 0);
      assert.equal(askpass.prompts().length, asked + 1, 'one prompt per signature, never a retry by itself');
    }
    // One refusal per signature (the use log's "key use: refused" line says it again).
    assert.equal(agent.log().match(/SSH_AGENTC_SIGN_REQUEST refused: .*PIN incorrect for key SIGN (pub)?key of token PIVemu 9a \(.*\); not retried/g)?.length, 2);
    // The card dropped its login with each failed VERIFY; the agent logs in again with the
    // PIN that worked before (never the rejected one) and 9a signs without a prompt. No
    // CKR_OPERATION_ACTIVE: the failed context login did not leave the session stuck.
    const asked = askpass.prompts().length;
    const ok = await login(pub9a);
    assert.equal(ok.code, 0, `${ok.stderr}\n${agent.log()}`);
    assert.equal(askpass.prompts().length, asked);
    assert.doesNotMatch(agent.log(), /CKR_OPERATION_ACTIVE/);
    askpass.setAnswer(VCARD_PIN);
    assert.equal((await login(pub9c)).code, 0, agent.log());
  });

  await t.test('at the final try the kept PIN is not risked: the prompt warns, a cancel spends nothing', async () => {
    // Two wrong PINs from another program leave the card at its last try.
    for (let i = 0; i < 2; i++) {
      await runTool('pkcs11-tool', ['--module', card.module, '--login', '--pin', '999999', '-O'], { env: card.env });
    }
    assert.match(flags(), /final user PIN try/);
    // Pulled and put back: the card forgot its login; the agent holds the PIN that worked
    // but does not risk the last try with it.
    await card.remove();
    await agent.waitForLog(/token PIVemu 9a is not present/, 5000);
    card.insert();
    await agent.waitForLog(/token PIVemu 9a is back after/, 5000);
    askpass.setAnswer('CANCEL');
    const asked = askpass.prompts().length;
    const r = await login(pub9a);
    assert.notEqual(r.code, 0);
    // The login after re-insertion asks the broker, which will not risk the last try with its copy.
    await agent.waitForLog(/reports its final PIN try: asking, never using a cached or remembered PIN/, 5000);
    assert.equal(askpass.prompts().length, asked + 1);
    assert.match(askpass.prompts().at(-1)!, /^Enter PIN for token "PIVemu 9a".*LAST TRY: a wrong PIN locks the token/);
    assert.match(flags(), /final user PIN try/);
    assert.doesNotMatch(flags(), /locked/);

    // The person types the right PIN: both keys sign again, and the counter is reset.
    askpass.setAnswer(VCARD_PIN);
    assert.equal((await login(pub9a)).code, 0, agent.log());
    assert.equal((await login(pub9c)).code, 0, agent.log());
    assert.doesNotMatch(flags(), /final user PIN try/);
  });

  await t.test('with the PIN forgotten and the card logged out, wrong PINs count down', async () => {
    const forget = await runTool(process.execPath, [TT_AGENT_BIN, 'forget-pin', 'PIVemu 9a'], { env: agent.env });
    assert.equal(forget.code, 0, forget.stderr);
    const lockEnv = (name: string) => ({ ...agent.env, SSH_ASKPASS: writeAskpass(scratch, name, 'pass').file, SSH_ASKPASS_REQUIRE: 'force' });
    assert.equal((await runTool('ssh-add', ['-x'], { env: lockEnv('lock2') })).code, 0);
    assert.equal((await runTool('ssh-add', ['-X'], { env: lockEnv('unlock2') })).code, 0);
    askpass.setAnswer('999999');
    for (const tries of [/\(.*\)/, /\(1 try left\)/]) {
      const asked = askpass.prompts().length;
      const r = await login(pub9a);
      assert.notEqual(r.code, 0);
      assert.equal(askpass.prompts().length, asked + 1, 'the PIN is asked again, once per signature');
      assert.match(agent.log(), new RegExp(`PIN incorrect for token PIVemu 9a ${tries.source}`));
    }
    assert.match(flags(), /final user PIN try/);
    askpass.setAnswer(VCARD_PIN);
    assert.equal((await login(pub9a)).code, 0, agent.log());
    assert.doesNotMatch(flags(), /final user PIN try/);
  });
});
