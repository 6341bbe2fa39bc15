// `tt-agent setup` against a temporary HOME: the units it installs pass `systemd-analyze
// verify`, the installed ExecStart really serves a socket-activated agent, a second run
// changes nothing, --uninstall removes exactly what setup wrote, and a unit the user wrote
// is never overwritten or removed. (No `systemd --user` runs in CI containers, so the
// manager is unreachable here and setup enables the socket by its wants link.)
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, TT_AGENT_BIN, connectWhenListening } from '../helpers/agent';
import { run, sshLogin, startSshd } from '../helpers/sshd';

function home(t: { after(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-setup-'));
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'cfg'), XDG_RUNTIME_DIR: runtime, SHELL: '/bin/bash' };
  delete env.SSH_AUTH_SOCK;
  delete env.DBUS_SESSION_BUS_ADDRESS;
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, env, units: path.join(dir, 'cfg', 'systemd', 'user') };
}

const setup = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [TT_AGENT_BIN, 'setup', ...args], { env, timeoutMs: 30_000 });

test('setup installs units that systemd-analyze verify accepts, enables the socket, prints the profile line', { timeout: 60_000 }, async (t) => {
  const h = home(t);
  const r = await setup([], h.env);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], `tt-agent.socket: installed (${path.join(h.units, 'tt-agent.socket')})`);
  assert.equal(lines[1], `tt-agent.service: installed (${path.join(h.units, 'tt-agent.service')})`);
  assert.match(r.stdout, /^Add this line to ~\/\.profile .*:\n {2}\. .*\/contrib\/profile\.sh$/m);
  const wants = path.join(h.units, 'sockets.target.wants', 'tt-agent.socket');
  assert.equal(fs.readlinkSync(wants), path.join(h.units, 'tt-agent.socket'));

  const service = fs.readFileSync(path.join(h.units, 'tt-agent.service'), 'utf8');
  assert.match(service, new RegExp(`^ExecStart=${process.execPath} ${fs.realpathSync(TT_AGENT_BIN)} -D$`, 'm'));
  // The units as systemd reads them (man pages are another package's business here).
  const v = spawnSync('systemd-analyze', ['--user', '--man=no', 'verify', path.join(h.units, 'tt-agent.socket'), path.join(h.units, 'tt-agent.service')], { env: h.env, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr, '', 'no warning from systemd-analyze verify');

  // Shells get the snippet for themselves.
  assert.match((await setup(['--shell', 'zsh'], h.env)).stdout, /~\/\.zprofile:\n {2}\. .*\/contrib\/profile\.zsh$/m);
  assert.match((await setup(['--shell', 'fish'], h.env)).stdout, /ln -sf .*\/contrib\/tt-agent\.fish ~\/\.config\/fish\/conf\.d\/tt-agent\.fish$/m);
  assert.match((await setup(['--shell', 'tcsh'], h.env)).stdout, /~\/\.login:\n {2}eval `tt-agent -c`$/m);
});

test('the installed ExecStart serves a socket-activated agent, as systemd would start it', { timeout: 60_000 }, async (t) => {
  const h = home(t);
  assert.equal((await setup(['--no-enable'], h.env)).code, 0);
  const exec = /^ExecStart=(.*)$/m.exec(fs.readFileSync(path.join(h.units, 'tt-agent.service'), 'utf8'))![1].split(' ');
  const sock = path.join(h.env.XDG_RUNTIME_DIR!, 'tt-agent', 'agent.sock');
  fs.mkdirSync(path.dirname(sock), { mode: 0o700 });
  const child = spawn('systemd-socket-activate', ['-E', 'JOURNAL_STREAM=0:0', '-l', sock, ...exec], { env: h.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  // The first connection starts the agent, as systemd would.
  (await connectWhenListening(sock)).destroy();
  const l = await run('ssh-add', ['-l'], { env: { ...h.env, SSH_AUTH_SOCK: sock }, timeoutMs: 20_000 });
  assert.equal(l.code, 1, l.stderr);
  assert.match(l.stdout, /no identities/);
  // The log line may trail the answer: wait for it (or for the agent to end).
  const end = Date.now() + 10_000;
  while (!/^<6>listening on fd 3$/m.test(err) && child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.match(err, /^<6>listening on fd 3$/m, 'journal priority prefixes under JOURNAL_STREAM');
  // The profile snippet finds it without tt-agent on PATH.
  const s = await run('sh', ['-c', `PATH=/usr/bin:/bin; . '${path.join(REPO_ROOT, 'contrib', 'profile.sh')}'; printenv SSH_AUTH_SOCK`], { env: h.env });
  assert.equal(s.stdout, `${sock}\n`);
  // And a login through it, judged by a real sshd.
  const key = path.join(h.dir, 'id');
  assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])).code, 0);
  assert.equal((await run('ssh-add', [key], { env: { ...h.env, SSH_AUTH_SOCK: sock } })).code, 0);
  const sshd = await startSshd({ authorizedKeys: [fs.readFileSync(`${key}.pub`, 'utf8').trim()] });
  t.after(() => sshd.stop());
  const login = await sshLogin(sshd, { agentSock: sock, identityFile: `${key}.pub`, command: 'echo logged-in' });
  assert.equal(login.stdout, 'logged-in\n', login.stderr);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, err);
});

test('setup is idempotent, --uninstall removes what it wrote, and a unit the user wrote is left alone', { timeout: 60_000 }, async (t) => {
  const h = home(t);
  assert.equal((await setup([], h.env)).code, 0);
  const stamp = (n: string) => fs.statSync(path.join(h.units, n)).mtimeMs;
  const before = [stamp('tt-agent.socket'), stamp('tt-agent.service')];
  const again = await setup([], h.env);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(again.stdout.split('\n').slice(0, 3).map((l) => l.replace(/ \(.*$/, '').replace(/;.*$/, '')), ['tt-agent.socket: unchanged', 'tt-agent.service: unchanged', 'tt-agent.socket: already enabled']);
  assert.deepEqual([stamp('tt-agent.socket'), stamp('tt-agent.service')], before, 'files not rewritten');

  const u = await setup(['--uninstall'], h.env);
  assert.equal(u.code, 0, u.stderr);
  assert.deepEqual(u.stdout.split('\n').slice(0, 3), ['sockets.target.wants/tt-agent.socket: removed', 'tt-agent.socket: removed', 'tt-agent.service: removed']);
  for (const n of ['tt-agent.socket', 'tt-agent.service', 'sockets.target.wants/tt-agent.socket']) assert.ok(!fs.existsSync(path.join(h.units, n)), n);
  const u2 = await setup(['--uninstall'], h.env);
  assert.equal(u2.code, 0);
  assert.equal(u2.stdout.split('\n')[1], 'tt-agent.socket: nothing to remove');

  // The user's own service file: setup refuses to replace it, uninstall keeps it.
  fs.mkdirSync(h.units, { recursive: true });
  fs.writeFileSync(path.join(h.units, 'tt-agent.service'), '[Service]\nExecStart=/opt/mine -D\n');
  const mine = await setup([], h.env);
  assert.equal(mine.code, 1);
  assert.equal(mine.stderr.split('\n')[0], `tt-agent: ${path.join(h.units, 'tt-agent.service')} exists and was not written by tt-agent setup; it is left as it is.`);
  const keep = await setup(['--uninstall'], h.env);
  assert.match(keep.stdout, /^tt-agent\.service: kept \(not written by tt-agent setup\)$/m);
  assert.equal(fs.readFileSync(path.join(h.units, 'tt-agent.service'), 'utf8'), '[Service]\nExecStart=/opt/mine -D\n');
});
