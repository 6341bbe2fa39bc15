// What `eval $(tt-agent)` prints, evaluated by the real shells: sh (dash), bash, zsh, csh
// (tcsh) and fish, with a socket path holding a space, quotes, ! and $. Each shell must end
// up with exactly that path in SSH_AUTH_SOCK and the agent's pid in SSH_AGENT_PID.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TT_AGENT_BIN } from '../helpers/agent';
import { run } from '../helpers/sshd';
import { stopPid } from './stop-pid';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

// How each shell evaluates the starter, as the manual tells its users to.
const SHELLS: Array<{ shell: string; flag: string; script: (bin: string) => string[] }> = [
  { shell: 'sh', flag: '-s', script: (bin) => ['-c', `eval "$(${bin} -s)" >/dev/null; printenv SSH_AUTH_SOCK; printenv SSH_AGENT_PID`] },
  { shell: 'bash', flag: '-s', script: (bin) => ['-c', `eval "$(${bin} -s)" >/dev/null; printenv SSH_AUTH_SOCK; printenv SSH_AGENT_PID`] },
  { shell: 'zsh', flag: '-s', script: (bin) => ['-c', `eval "$(${bin} -s)" >/dev/null; printenv SSH_AUTH_SOCK; printenv SSH_AGENT_PID`] },
  { shell: 'tcsh', flag: '-c', script: (bin) => ['-c', `eval \`${bin} -c\` >/dev/null; printenv SSH_AUTH_SOCK; printenv SSH_AGENT_PID`] },
  { shell: 'csh', flag: '-c', script: (bin) => ['-c', `eval \`${bin} -c\` >/dev/null; printenv SSH_AUTH_SOCK; printenv SSH_AGENT_PID`] },
  // fish picks its own syntax from $SHELL, as `tt-agent | source` in config.fish does.
  { shell: 'fish', flag: '', script: (bin) => ['-c', `${bin} | source >/dev/null; printenv SSH_AUTH_SOCK; printenv SSH_AGENT_PID`] },
];

test('the environment is quoted for sh, bash, zsh, csh, tcsh and fish: a path with a space, quotes, ! and $ survives', { timeout: 120_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-shells-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const odd = path.join(dir, `my agent's "dir" !1 $HOME`);
  fs.mkdirSync(odd, { mode: 0o700 });
  const sock = path.join(odd, 'agent.sock');
  const env: NodeJS.ProcessEnv = { ...process.env, SHELL: '/bin/sh' };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;

  // Start it once by hand (argv, no shell), then let every shell adopt it through SSH_AUTH_SOCK.
  const start = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', sock], { env, timeoutMs: 20_000 });
  assert.equal(start.code, 0, start.stderr);
  const pid = Number(/^SSH_AGENT_PID=(\d+);/m.exec(start.stdout)![1]);
  t.after(() => stopPid(pid));
  // The bin path needs no quoting in any of the shells.
  assert.match(TT_AGENT_BIN, /^[\w/.-]+$/);
  const bin = `${process.execPath} ${TT_AGENT_BIN}`;

  for (const { shell, script } of SHELLS) {
    if (!have(shell)) {
      t.diagnostic(`${shell} is not installed (scripts/install.sh installs it)`);
      assert.fail(`${shell} is missing: run scripts/install.sh`);
    }
    const r = await run(shell, script(bin), { env: { ...env, SSH_AUTH_SOCK: sock, SHELL: `/usr/bin/${shell}` }, timeoutMs: 20_000 });
    assert.equal(r.code, 0, `${shell}: ${r.stderr}`);
    assert.equal(r.stdout, `${sock}\n${pid}\n`, `${shell} evaluated the output to the same path and pid`);
  }
});
