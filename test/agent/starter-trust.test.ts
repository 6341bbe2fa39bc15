// The starter against an impostor: another uid binds the socket path first in a shared
// sticky directory and answers status@tt-agent with the pid tt-agent expects. tt-agent must
// ask the kernel (lstat, SO_PEERCRED), refuse, and print no environment; the log next to the
// socket never follows a symlink someone planted; a running agent is reused only when its
// socket and its listener are ours.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TT_AGENT_BIN } from '../helpers/agent';
import { run } from '../helpers/sshd';
import { stopPid } from './stop-pid';
import { NOBODY, startImpostor } from './impostor';

const skip = process.getuid?.() !== 0 && 'needs root to act as another uid (setpriv)';

interface Sandbox {
  dir: string;
  /** A shared directory as /tmp is: mode 1777. */
  shared: string;
  env: NodeJS.ProcessEnv;
}

function sandbox(t: { after(fn: () => void): void }): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-trust-'));
  fs.chmodSync(dir, 0o755);
  const shared = path.join(dir, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtime, SHELL: '/bin/sh', TMPDIR: dir };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;
  t.after(() => {
    stopAgentsUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, shared, env };
}

/** Stops any agent a failing (old) starter left running on a socket under `dir`, by its pid. */
function stopAgentsUnder(dir: string): void {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.includes('-D') && argv.some((a) => a.startsWith(dir))) process.kill(Number(d), 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
}

test('-a PATH bound first by another uid, who echoes a status: refused, no environment', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  const sock = path.join(sb.shared, 'agent.sock');
  const imp = startImpostor(sock, 'now');
  t.after(() => imp.stop());
  await imp.waitFor('listening');
  assert.equal(fs.lstatSync(sock).uid, NOBODY);

  const r = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', sock], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(r.stdout, '', 'no environment pointing at the impostor');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.split('\n')[0], `tt-agent: cannot bind to ${sock}: address already in use (${sock} belongs to uid ${NOBODY}, not to you).`);
  assert.equal(fs.lstatSync(sock).uid, NOBODY, 'the impostor socket is not replaced either');
});

test('another uid binds PATH after the checks, before our child: the kernel names the listener, tt-agent refuses', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  const sock = path.join(sb.shared, 'race.sock');
  // Binds as soon as the background child exists, then answers with that child's pid.
  const imp = startImpostor(sock, 'child');
  t.after(() => imp.stop());
  await imp.waitFor('ready');

  const r = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', sock], { env: sb.env, timeoutMs: 20_000 });
  assert.match(imp.output(), /listening/, 'the impostor won the race to bind');
  assert.equal(r.stdout, '', 'no environment pointing at the impostor');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.split('\n')[0], new RegExp(`^tt-agent: cannot bind to ${sock}: address already in use \\(.*(uid ${NOBODY}).*\\)\\.$`));
});

test('a symlink planted at the log path is not followed (sticky and plain world-writable directories)', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  const open = path.join(sb.dir, 'open');
  fs.mkdirSync(open);
  fs.chmodSync(open, 0o777);
  const precious = path.join(sb.dir, 'precious');
  fs.writeFileSync(precious, 'precious\n', { mode: 0o600 });
  for (const dir of [sb.shared, open]) {
    const sock = path.join(dir, 'agent.sock');
    execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'ln', '-s', precious, `${sock}.log`]);
    const r = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', sock], { env: sb.env, timeoutMs: 20_000 });
    assert.equal(r.stdout, '');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.split('\n')[0], `tt-agent: ${sock}.log is a symbolic link; the agent's log never follows one.`);
    assert.equal(fs.readFileSync(precious, 'utf8'), 'precious\n', 'the target is untouched');
    assert.ok(!fs.existsSync(sock), 'no agent was started');
  }
});

test('the log next to the socket is created 0600, and a log file of another uid is never written', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  const sock = path.join(sb.shared, 'mine.sock');
  const r = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', sock], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  const st = fs.lstatSync(`${sock}.log`);
  assert.ok(st.isFile());
  assert.equal(st.mode & 0o777, 0o600);
  process.kill(Number(/SSH_AGENT_PID=(\d+)/.exec(r.stdout)![1]), 'SIGTERM');

  const theirs = path.join(sb.shared, 'theirs.sock');
  execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'sh', '-c', `umask 0; : > ${theirs}.log`]);
  const r2 = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', theirs], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(r2.code, 1, r2.stderr);
  assert.equal(r2.stderr.split('\n')[0], `tt-agent: ${theirs}.log belongs to uid ${NOBODY}; the agent's log is never written there.`);
  assert.equal(fs.readFileSync(`${theirs}.log`, 'utf8'), '');
});

test('eval $(tt-agent) does not reuse an agent at SSH_AUTH_SOCK whose socket belongs to another uid', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  const sock = path.join(sb.shared, 'theirs.sock');
  // It claims to be a tt-agent of ours (uid 0) with a pid of ours: words only.
  const imp = startImpostor(sock, 'now', process.pid);
  t.after(() => imp.stop());
  await imp.waitFor('listening');
  const r = await run(process.execPath, [TT_AGENT_BIN, '-s'], { env: { ...sb.env, SSH_AUTH_SOCK: sock }, timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /theirs\.sock/);
  const own = path.join(sb.env.XDG_RUNTIME_DIR!, 'tt-agent', 'agent.sock');
  assert.match(r.stdout, new RegExp(`^SSH_AUTH_SOCK=${own}; export SSH_AUTH_SOCK;$`, 'm'));
  assert.doesNotMatch(r.stdout, new RegExp(`SSH_AGENT_PID=${process.pid};`));
  assert.doesNotMatch(imp.output(), /answered/, 'it was not even asked: the socket owner decided');
  process.kill(Number(/SSH_AGENT_PID=(\d+)/.exec(r.stdout)![1]), 'SIGTERM');
});

test('the fixed runtime socket is reused only when the kernel says our uid listens there', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  // XDG_RUNTIME_DIR's tt-agent directory opened up and another uid's listener at the fixed socket.
  const dir = path.join(sb.env.XDG_RUNTIME_DIR!, 'tt-agent');
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chmodSync(sb.env.XDG_RUNTIME_DIR!, 0o755);
  fs.chmodSync(dir, 0o777);
  const imp = startImpostor(path.join(dir, 'agent.sock'), 'now', process.pid);
  t.after(() => imp.stop());
  await imp.waitFor('listening');
  const r = await run(process.execPath, [TT_AGENT_BIN, '-s'], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(r.stdout, '');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.split('\n')[0], `tt-agent: the agent's directory ${dir} is accessible to others (mode 777).`);
  assert.doesNotMatch(imp.output(), /answered/);
});

test('without the native addon: an agent in a private directory is still found; a shared directory is refused', { skip, timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  // A copy of the package without build/: what a failed addon build leaves.
  const pkg = path.join(sb.dir, 'pkg');
  const root = path.resolve(TT_AGENT_BIN, '..', '..');
  fs.cpSync(path.join(root, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  fs.cpSync(path.join(root, 'bin'), path.join(pkg, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'));
  const bin = path.join(pkg, 'bin', 'tt-agent');

  const first = await run(process.execPath, [bin, '-s'], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(first.code, 0, first.stderr);
  const pid = Number(/SSH_AGENT_PID=(\d+);/.exec(first.stdout)![1]);
  t.after(() => stopPid(pid));
  const again = await run(process.execPath, [bin, '-s'], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(again.stdout, first.stdout, 'the same agent, found again');

  const sock = path.join(sb.shared, 'noaddon.sock');
  const imp = startImpostor(sock, 'child');
  t.after(() => imp.stop());
  await imp.waitFor('ready');
  const r = await run(process.execPath, [bin, '-s', '-a', sock], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(r.stdout, '', 'no environment pointing at the impostor');
  assert.equal(r.code, 1, r.stderr);
});
