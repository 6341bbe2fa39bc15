// The login snippets (contrib/profile.sh, profile.zsh, tt-agent.fish) in the real shells: a
// running agent at the fixed socket is found without starting Node (a tt-agent on PATH that
// only records its calls proves it was not run); another uid's socket, a dead socket and a
// symlink are never adopted, and the snippet falls back to tt-agent.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, TT_AGENT_BIN, connects } from '../helpers/agent';
import { killAndWait, run } from '../helpers/sshd';
import { stopPid } from './stop-pid';

const CONTRIB = path.join(REPO_ROOT, 'contrib');
const FALLBACK = '/fallback/agent.sock';

// How a login shell reads each snippet.
const SHELLS: Array<{ shell: string; args: (snippet: string) => string[]; snippet: string }> = [
  { shell: 'sh', snippet: 'profile.sh', args: (f) => ['-c', `. '${f}'; printenv SSH_AUTH_SOCK`] },
  { shell: 'bash', snippet: 'profile.sh', args: (f) => ['-c', `. '${f}'; printenv SSH_AUTH_SOCK`] },
  { shell: 'zsh', snippet: 'profile.zsh', args: (f) => ['-f', '-c', `source '${f}'; printenv SSH_AUTH_SOCK`] },
  { shell: 'fish', snippet: 'tt-agent.fish', args: (f) => ['-l', '-N', '-c', `source '${f}'; printenv SSH_AUTH_SOCK`] },
];

interface Sandbox {
  dir: string;
  runtime: string;
  sock: string;
  calls: string;
  env: NodeJS.ProcessEnv;
}

/** A runtime dir, and PATH with a tt-agent that only records that it ran (and prints FALLBACK). */
function sandbox(t: { after(fn: () => void): void }): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-profile-'));
  fs.chmodSync(dir, 0o755);
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const calls = path.join(dir, 'calls');
  fs.writeFileSync(
    path.join(bin, 'tt-agent'),
    `#!/bin/sh\necho "$*" >> '${calls}'\ncase "$SHELL" in *fish) echo "set -gx SSH_AUTH_SOCK ${FALLBACK};" ;; *) echo "SSH_AUTH_SOCK=${FALLBACK}; export SSH_AUTH_SOCK;" ;; esac\n`,
    { mode: 0o755 },
  );
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtime, HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), PATH: `${bin}:${process.env.PATH}` };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, runtime, sock: path.join(runtime, 'tt-agent', 'agent.sock'), calls, env };
}

async function snippetResult(sb: Sandbox, s: (typeof SHELLS)[number], env = sb.env): Promise<{ sock: string; ranTtAgent: boolean }> {
  fs.rmSync(sb.calls, { force: true });
  const r = await run(s.shell, s.args(path.join(CONTRIB, s.snippet)), { env, timeoutMs: 20_000 });
  assert.equal(r.code, 0, `${s.shell}: ${r.stderr}`);
  assert.equal(r.stderr, '', `${s.shell} prints nothing on stderr`);
  return { sock: r.stdout.trim(), ranTtAgent: fs.existsSync(sb.calls) };
}

/** A real background tt-agent at the fixed socket; returns its pid. */
async function startRealAgent(t: { after(fn: () => void): void }, sb: Sandbox): Promise<number> {
  const r = await run(process.execPath, [TT_AGENT_BIN, '-s'], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(/^SSH_AGENT_PID=(\d+);/m.exec(r.stdout)![1]);
  t.after(() => stopPid(pid));
  return pid;
}

test('a running agent at the fixed socket is adopted by sh, bash, zsh and fish without running tt-agent', { timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  await startRealAgent(t, sb);
  for (const s of SHELLS) {
    assert.deepEqual(await snippetResult(sb, s), { sock: sb.sock, ranTtAgent: false }, s.shell);
    // A stale SSH_AGENT_PID that came with another socket is dropped, not kept pointing elsewhere.
  }
  const r = await run('sh', ['-c', `. '${path.join(CONTRIB, 'profile.sh')}'; echo "pid=\${SSH_AGENT_PID-unset}"`], { env: { ...sb.env, SSH_AUTH_SOCK: '/else', SSH_AGENT_PID: '1' } });
  assert.equal(r.stdout, 'pid=unset\n');
});

test('no agent yet: the snippet starts one through tt-agent, and the next shell finds it without Node', { timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  // The real tt-agent behind the PATH name this time.
  const realBin = path.join(sb.dir, 'realbin');
  fs.mkdirSync(realBin);
  fs.writeFileSync(path.join(realBin, 'tt-agent'), `#!/bin/sh\necho "$*" >> '${sb.calls}'\nexec '${process.execPath}' '${TT_AGENT_BIN}' "$@"\n`, { mode: 0o755 });
  const env = { ...sb.env, PATH: `${realBin}:${process.env.PATH}` };
  const first = await snippetResult(sb, SHELLS[0], env);
  assert.deepEqual(first, { sock: sb.sock, ranTtAgent: true });
  const pidOf = await run(process.execPath, [TT_AGENT_BIN, '-s'], { env: { ...env, SSH_AUTH_SOCK: sb.sock } });
  const pid = Number(/^SSH_AGENT_PID=(\d+);/m.exec(pidOf.stdout)![1]);
  t.after(() => stopPid(pid));
  assert.deepEqual(await snippetResult(sb, SHELLS[0], env), { sock: sb.sock, ranTtAgent: false });
});

test('another uid\'s agent socket at the fixed path is never adopted', { skip: process.getuid?.() !== 0 && 'needs root (setpriv)', timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  // The runtime directory opened up, and a real ssh-agent of uid 65534 listening where ours would.
  fs.chmodSync(sb.runtime, 0o755);
  fs.mkdirSync(path.dirname(sb.sock), { mode: 0o777 });
  fs.chmodSync(path.dirname(sb.sock), 0o777);
  const other = spawn('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'ssh-agent', '-D', '-a', sb.sock], { stdio: 'ignore' });
  t.after(() => killAndWait(other));
  while (!(await connects(sb.sock))) await new Promise((r) => setTimeout(r, 10));
  fs.chmodSync(sb.sock, 0o777); // answers anyone, as an impostor would
  assert.equal((await run('ssh-add', ['-l'], { env: { ...sb.env, SSH_AUTH_SOCK: sb.sock } })).code, 1, 'it answers');
  for (const s of SHELLS) {
    assert.deepEqual(await snippetResult(sb, s), { sock: FALLBACK, ranTtAgent: true }, s.shell);
  }
});

test('a dead socket or a symlink at the fixed path is never adopted', { timeout: 60_000 }, async (t) => {
  const sb = sandbox(t);
  fs.mkdirSync(path.dirname(sb.sock), { mode: 0o700 });
  // A crashed agent's socket: ours, nobody listening.
  await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sb.sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.ok(fs.lstatSync(sb.sock).isSocket() && !(await connects(sb.sock)));
  for (const s of SHELLS) {
    assert.deepEqual(await snippetResult(sb, s), { sock: FALLBACK, ranTtAgent: true }, `${s.shell}, dead socket`);
  }
  // A symlink to a live agent of ours elsewhere: the fixed path must be the socket itself.
  fs.rmSync(sb.sock);
  const elsewhere = path.join(sb.dir, 'else');
  fs.mkdirSync(elsewhere, { mode: 0o700 });
  const started = await run(process.execPath, [TT_AGENT_BIN, '-s', '-a', path.join(elsewhere, 'agent.sock')], { env: sb.env, timeoutMs: 20_000 });
  assert.equal(started.code, 0, started.stderr);
  t.after(() => stopPid(Number(/^SSH_AGENT_PID=(\d+);/m.exec(started.stdout)![1])));
  fs.symlinkSync(path.join(elsewhere, 'agent.sock'), sb.sock);
  for (const s of SHELLS) {
    assert.deepEqual(await snippetResult(sb, s), { sock: FALLBACK, ranTtAgent: true }, `${s.shell}, symlink`);
  }
});
