// `tt-agent unlock` typed into a real terminal (tmux) against the real agent: a token added
// with --no-pin, an ssh login whose signature waits for the PIN (no dialog can be shown:
// SSH_ASKPASS_REQUIRE=never, no display), the PIN typed in the terminal, and the login goes
// through. Needs `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { startAgent, TT_AGENT_BIN } from '../helpers/agent';
import { makeToken } from '../helpers/softhsm';
import { run, sshLogin, startSshd } from '../helpers/sshd';
import { runTool } from '../helpers/vcard';
import { haveTmux, Tmux } from '../pin/tmux';

test('a signature waits for tt-agent unlock typed in a terminal, then ssh logs in', { skip: haveTmux() ? false : 'tmux not installed', timeout: 90_000 }, async (t) => {
  const tok = makeToken({ tokens: 'twoTokens' });
  t.after(() => tok.cleanup());
  const env: NodeJS.ProcessEnv = { ...tok.env, SSH_ASKPASS_REQUIRE: 'never', TT_AGENT_UNLOCK_WAIT: '40' };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.GPG_TTY;
  const agent = await startAgent({ env });
  t.after(() => agent.stop());
  const sshd = await startSshd();
  t.after(() => sshd.stop());

  const add = await runTool(process.execPath, [TT_AGENT_BIN, 'add', tok.module, '--no-pin'], { env: { ...agent.env, SOFTHSM2_CONF: tok.conf } });
  assert.equal(add.code, 0, `${add.stdout}${add.stderr}\n${agent.log()}`);
  const keys = await run('ssh-add', ['-L'], { env: agent.env });
  const first = keys.stdout.split('\n').find((l) => l.endsWith(' first-p256'));
  assert.ok(first, keys.stdout);
  const pub = path.join(agent.dir, 'first.pub');
  fs.writeFileSync(pub, `${first}\n`);
  sshd.setAuthorizedKeys([first]);

  // The login starts and its signature waits: the agent says how to give the PIN.
  const login = sshLogin(sshd, { agentSock: agent.sock, identityFile: pub, command: 'echo logged-in', timeoutMs: 60_000 });
  await agent.waitForLog(/token "first" \(serial \w+\) needs its PIN: run 'tt-agent unlock first' within 40 s/, 20_000);

  const tmux = new Tmux(agent.dir);
  t.after(() => tmux.kill());
  tmux.start(`'${process.execPath}' '${TT_AGENT_BIN}' unlock first`, { SSH_AUTH_SOCK: agent.sock, TERM: 'xterm' });
  await tmux.waitFor(/PIN for token first:/);
  tmux.type(tok.pin);
  tmux.keys('Enter');
  const screen = await tmux.waitFor(/EXIT=\d+/);
  assert.match(screen, /PIN handed to the agent for token "first" \(serial \w+\)/);
  assert.match(screen, /EXIT=0/);
  assert.doesNotMatch(screen, new RegExp(tok.pin), 'the PIN is never echoed');

  const r = await login;
  assert.equal(r.code, 0, `${r.stderr}\n${agent.log()}`);
  assert.match(r.stdout, /logged-in/);
  assert.doesNotMatch(agent.log(), new RegExp(tok.pin), 'the PIN never reaches the log');
});
