// Lock that is safe and convenient: `ssh-add -x` logs the tokens out and seals the kept PINs,
// `ssh-add -X` unseals them, and the next `ssh` login signs on the token key with no PIN
// prompt — in an agent that has no SSH_ASKPASS at all, so a prompt could not even be shown.
// Needs `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { startAgent, TT_AGENT_BIN } from '../helpers/agent';
import { makeToken } from '../helpers/softhsm';
import { run, sshLogin, startSshd } from '../helpers/sshd';

const ttAgent = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [TT_AGENT_BIN, ...args], { env, timeoutMs: 60_000 });

test('ssh-add -x, ssh-add -X, then ssh signs on a token key without asking for the PIN', { timeout: 180_000 }, async (t) => {
  const tok = makeToken({ tokens: [{ label: 'sealed', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'sealed-p256' }] }], setEnv: false });
  const agentEnv = { ...tok.env };
  delete agentEnv.SSH_ASKPASS;
  delete agentEnv.DISPLAY;
  const agent = await startAgent({ env: agentEnv });
  t.after(async () => {
    await agent.stop();
    tok.cleanup();
  });
  const askpass = (secret: string) => {
    const file = path.join(tok.dir, `askpass-${secret}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${secret}'\n`, { mode: 0o700 });
    return { ...agent.env, SOFTHSM2_CONF: tok.conf, SSH_ASKPASS: file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  };
  const added = await ttAgent(['add', tok.module], askpass(tok.pin));
  assert.equal(added.code, 0, added.stderr);
  const pub = (await run('ssh-add', ['-L'], { env: agent.env })).stdout.trim();
  const sshd = await startSshd({ authorizedKeys: [pub] });
  t.after(() => sshd.stop());
  assert.equal((await sshLogin(sshd, { agentSock: agent.sock })).code, 0, 'logs in before locking');

  const lockEnv = askpass('lock-passphrase');
  assert.equal((await run('ssh-add', ['-x'], { env: lockEnv })).code, 0);
  await agent.waitForLog('agent locked; kept PINs sealed');
  await agent.waitForLog('sealed 1 cached PIN');
  assert.notEqual((await sshLogin(sshd, { agentSock: agent.sock })).code, 0, 'no login while locked');
  assert.equal((await run('ssh-add', ['-X'], { env: lockEnv })).code, 0);

  // Unlocked, and the token is still logged out: the lock really logged it out.
  const status = JSON.parse((await ttAgent(['status', '--json'], agent.env)).stdout);
  assert.equal(status.locked, false);
  assert.equal(status.modules[0].tokens[0].loggedIn, false, 'logged out by the lock');

  const login = await sshLogin(sshd, { agentSock: agent.sock });
  assert.equal(login.code, 0, `${login.stderr}\n${agent.log()}`);
  assert.doesNotMatch(agent.log(), /askpass|waiting for tt-agent unlock/i);
});
