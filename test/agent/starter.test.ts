// `tt-agent` as a shell starts it: eval $(tt-agent) starts one background agent and reuses it
// afterwards, -k kills it, sh/csh/fish output, socket and directory permissions, stale and
// live sockets, and systemd socket activation.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TT_AGENT_BIN, connectWhenListening, connects } from '../helpers/agent';
import { run } from '../helpers/sshd';

function sandbox(): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-starter-'));
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtime, SHELL: '/bin/bash', TMPDIR: dir };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;
  return { dir, env, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `eval $(tt-agent ARGS)` in sh and reports the resulting environment. */
async function evalAgent(env: NodeJS.ProcessEnv, args = ''): Promise<{ sock: string; pid: number; out: string }> {
  const r = await run('sh', ['-c', `eval "$(node ${TT_AGENT_BIN} ${args})" && echo "SOCK=$SSH_AUTH_SOCK" && echo "PID=$SSH_AGENT_PID"`], { env });
  assert.equal(r.code, 0, r.stderr);
  const sock = /^SOCK=(.*)$/m.exec(r.stdout)![1];
  const pid = Number(/^PID=(\d+)$/m.exec(r.stdout)![1]);
  return { sock, pid, out: r.stdout };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

test('eval $(tt-agent) starts a background agent; a second eval reuses it; -k kills it and cleans up', async () => {
  const sb = sandbox();
  try {
    const first = await evalAgent(sb.env);
    assert.match(first.out, /^Agent pid \d+$/m);
    assert.equal(first.sock, path.join(sb.env.XDG_RUNTIME_DIR!, 'tt-agent', 'agent.sock'));
    assert.ok(alive(first.pid));
    assert.equal(fs.statSync(first.sock).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(first.sock)).mode & 0o777, 0o700);
    const l = await run('ssh-add', ['-l'], { env: { ...sb.env, SSH_AUTH_SOCK: first.sock } });
    assert.match(l.stdout + l.stderr, /no identities/i);

    // Reuse through SSH_AUTH_SOCK, and through the fixed runtime-dir socket in a fresh shell.
    const again = await evalAgent({ ...sb.env, SSH_AUTH_SOCK: first.sock, SSH_AGENT_PID: String(first.pid) });
    assert.deepEqual([again.sock, again.pid], [first.sock, first.pid]);
    const fresh = await evalAgent(sb.env);
    assert.deepEqual([fresh.sock, fresh.pid], [first.sock, first.pid]);

    const k = await run('node', [TT_AGENT_BIN, '-k'], { env: { ...sb.env, SSH_AUTH_SOCK: first.sock, SSH_AGENT_PID: String(first.pid) } });
    assert.equal(k.code, 0, k.stderr);
    assert.equal(k.stdout, `unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\necho Agent pid ${first.pid} killed;\n`);
    assert.ok(await waitGone(first.pid), 'agent must exit on SIGTERM');
    assert.ok(!fs.existsSync(first.sock), 'socket removed on shutdown');
  } finally {
    sb.cleanup();
  }
});

test('without XDG_RUNTIME_DIR the socket goes to a private TMPDIR/tt-agent-XXXXXX directory, removed on exit', async () => {
  const sb = sandbox();
  delete sb.env.XDG_RUNTIME_DIR;
  try {
    const a = await evalAgent(sb.env);
    assert.match(a.sock, new RegExp(`^${sb.dir}/tt-agent-[^/]+/agent.sock$`));
    assert.equal(fs.statSync(path.dirname(a.sock)).mode & 0o777, 0o700);
    process.kill(a.pid, 'SIGTERM');
    assert.ok(await waitGone(a.pid));
    assert.ok(!fs.existsSync(path.dirname(a.sock)), 'private directory removed');
  } finally {
    sb.cleanup();
  }
});

test('csh and fish output; -s overrides $SHELL', async () => {
  const sb = sandbox();
  try {
    const a = await evalAgent(sb.env);
    const env = { ...sb.env, SSH_AUTH_SOCK: a.sock };
    const csh = await run('node', [TT_AGENT_BIN, '-c'], { env });
    assert.equal(csh.stdout, `setenv SSH_AUTH_SOCK ${a.sock};\nsetenv SSH_AGENT_PID ${a.pid};\necho Agent pid ${a.pid};\n`);
    const fish = await run('node', [TT_AGENT_BIN], { env: { ...env, SHELL: '/usr/bin/fish' } });
    assert.equal(fish.stdout, `set -x SSH_AUTH_SOCK ${a.sock};\nset -x SSH_AGENT_PID ${a.pid};\necho Agent pid ${a.pid};\n`);
    const sh = await run('node', [TT_AGENT_BIN, '-s'], { env: { ...env, SHELL: '/bin/tcsh' } });
    assert.match(sh.stdout, /^SSH_AUTH_SOCK=.*; export SSH_AUTH_SOCK;$/m);
    process.kill(a.pid, 'SIGTERM');
    await waitGone(a.pid);
  } finally {
    sb.cleanup();
  }
});

test('a stale socket file is replaced; a live agent socket is not', async () => {
  const sb = sandbox();
  try {
    const sock = path.join(sb.dir, 'agent.sock');
    // A socket file nobody listens on, as a crashed agent leaves behind.
    // A crashed agent: it listened, then died by SIGKILL without removing its socket.
    const crashed = await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(crashed.code, null);
    assert.ok(fs.existsSync(sock) && !(await connects(sock)));
    const a = await evalAgent(sb.env, `-a ${sock}`);
    assert.equal(a.sock, sock);
    assert.ok(await connects(sock));

    const second = await run('node', [TT_AGENT_BIN, '-D', '-a', sock], { env: sb.env, timeoutMs: 10_000 });
    assert.notEqual(second.code, 0);
    assert.equal(second.code, 1);
    assert.equal(second.stderr.split('\n')[0], `tt-agent: an agent is already running on ${sock} (pid ${a.pid}).`);
    assert.ok(await connects(sock), 'the live agent keeps its socket');
    process.kill(a.pid, 'SIGTERM');
    await waitGone(a.pid);
  } finally {
    sb.cleanup();
  }
});

test('-k without SSH_AGENT_PID says what to do; bad flags and lifetimes are usage errors', async () => {
  const sb = sandbox();
  try {
    const k = await run('node', [TT_AGENT_BIN, '-k'], { env: sb.env });
    assert.equal(k.code, 1);
    assert.match(k.stderr, /SSH_AGENT_PID is not set/);
    const t = await run('node', [TT_AGENT_BIN, '-t', '5x'], { env: sb.env });
    assert.equal(t.code, 2);
    assert.match(t.stderr, /invalid lifetime "5x"/);
    const q = await run('node', [TT_AGENT_BIN, '-Q'], { env: sb.env });
    assert.equal(q.code, 2);
    assert.match(q.stderr, /unknown option -Q/);
  } finally {
    sb.cleanup();
  }
});

test('systemd socket activation: the agent serves the inherited listening socket (LISTEN_FDS)', async () => {
  const sb = sandbox();
  const sock = path.join(sb.dir, 'activated.sock');
  const { spawn } = await import('node:child_process');
  const child = spawn('systemd-socket-activate', ['-l', sock, process.execPath, TT_AGENT_BIN, '-D'], {
    env: sb.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  try {
    // The first connection starts the agent on the inherited fd.
    (await connectWhenListening(sock)).destroy();
    const l = await run('ssh-add', ['-l'], { env: { ...sb.env, SSH_AUTH_SOCK: sock }, timeoutMs: 15_000 });
    assert.match(l.stdout + l.stderr, /no identities/i, err);
    const k = path.join(sb.dir, 'k');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
    assert.equal((await run('ssh-add', [k], { env: { ...sb.env, SSH_AUTH_SOCK: sock } })).code, 0);
    assert.match(err, /listening on fd 3/);
    // systemd stops the unit with SIGTERM: that is a clean stop, exit 0 (as OpenSSH 10.1's agent).
    const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null], err);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    sb.cleanup();
  }
});

test('systemd socket activation: a SIGTERM while the agent is still starting is a clean stop too (exit 0)', async () => {
  const sb = sandbox();
  const sock = path.join(sb.dir, 'activated.sock');
  const { spawn } = await import('node:child_process');
  const child = spawn('systemd-socket-activate', ['-l', sock, process.execPath, TT_AGENT_BIN, '-d'], { env: sb.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let onErr = () => undefined as void;
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    onErr();
  });
  const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
  try {
    // The first connection execs the agent; stop it at its first log line, long before it listens.
    const c = await connectWhenListening(sock);
    c.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      onErr = () => (/debug: starting/.test(err) || child.exitCode !== null ? resolve() : undefined);
      onErr();
      setTimeout(resolve, 15_000);
    });
    assert.match(err, /debug: starting/, `the agent process runs its own code (exit ${child.exitCode}): ${err}`);
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null], err);
    c.destroy();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    sb.cleanup();
  }
});

