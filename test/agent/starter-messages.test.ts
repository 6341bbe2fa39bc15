// The starter's mistakes as a user makes them, each judged by the exact first line and the
// exit status: -a into a missing directory, -d or -a on a running agent's socket, an unknown
// long option, and `tt-agent status` with SSH_AUTH_SOCK unset.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TT_AGENT_BIN } from '../helpers/agent';
import { run } from '../helpers/sshd';
import { stopPid } from './stop-pid';

function sandbox(t: { after(fn: () => void): void }): { dir: string; env: NodeJS.ProcessEnv; sock: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-msg-'));
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtime, SHELL: '/bin/sh', TMPDIR: dir };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, env, sock: path.join(runtime, 'tt-agent', 'agent.sock') };
}

const tt = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [TT_AGENT_BIN, ...args], { env, timeoutMs: 20_000 });
const firstLine = (s: string) => s.split('\n')[0];

/** Starts the background agent at the fixed runtime socket; returns its pid. */
async function startAgent(t: { after(fn: () => void): void }, env: NodeJS.ProcessEnv): Promise<number> {
  const r = await tt(['-s'], env);
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(/^SSH_AGENT_PID=(\d+);/m.exec(r.stdout)![1]);
  t.after(() => stopPid(pid));
  return pid;
}

test('-a into a missing directory: a usage error (exit 2) that says to create it', async (t) => {
  const sb = sandbox(t);
  const sock = path.join(sb.dir, 'nope', 'agent.sock');
  const r = await tt(['-s', '-a', sock], sb.env);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(firstLine(r.stderr), `tt-agent: cannot create the socket ${sock}: the directory ${path.join(sb.dir, 'nope')} does not exist.`);
  assert.match(r.stderr, /mkdir -m 700 /);
  assert.match(r.stderr, /^usage: tt-agent /m);
  assert.equal(r.stdout, '');
});

test('tt-agent -d while an agent runs: one sentence naming it, no stack trace (exit 1)', async (t) => {
  const sb = sandbox(t);
  const pid = await startAgent(t, sb.env);
  const r = await tt(['-d'], sb.env);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(firstLine(r.stderr), `tt-agent: an agent is already running on ${sb.sock} (pid ${pid}).`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(r.stderr.trim().split('\n').length, 2, 'what happened, then what to do');
});

test('-a with the running agent\'s socket: a clear sentence (exit 1)', async (t) => {
  const sb = sandbox(t);
  const pid = await startAgent(t, sb.env);
  const r = await tt(['-s', '-a', sb.sock], sb.env);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(firstLine(r.stderr), `tt-agent: an agent is already running on ${sb.sock} (pid ${pid}).`);
  assert.equal(r.stdout, '');
});

test('an unknown long option is named (exit 2)', async (t) => {
  const sb = sandbox(t);
  const r = await tt(['--nosuchflag'], sb.env);
  assert.equal(r.code, 2);
  assert.equal(firstLine(r.stderr), 'tt-agent: unknown option --nosuchflag');
  const v = await tt(['-s', '--socket=/tmp/x'], sb.env);
  assert.equal(v.code, 2);
  assert.equal(firstLine(v.stderr), 'tt-agent: unknown option --socket');
});

test('a socket path with a newline is refused before anything starts: no shell could read it back (exit 2)', async (t) => {
  const sb = sandbox(t);
  const r = await tt(['-s', '-a', path.join(sb.dir, 'a\nb.sock')], sb.env);
  assert.equal(r.code, 2);
  assert.equal(firstLine(r.stderr), 'tt-agent: -a needs a socket path without control characters');
  assert.equal(r.stdout, '');
  assert.deepEqual(fs.readdirSync(sb.dir).sort(), ['run']);
});

test('tt-agent status with SSH_AUTH_SOCK unset finds the agent at the fixed runtime socket', async (t) => {
  const sb = sandbox(t);
  const none = await tt(['status'], sb.env);
  assert.equal(none.code, 1);
  assert.equal(firstLine(none.stderr), 'tt-agent: no agent: SSH_AUTH_SOCK is not set and no agent answers at $XDG_RUNTIME_DIR/tt-agent/agent.sock.');

  const pid = await startAgent(t, sb.env);
  const r = await tt(['status', '--json'], sb.env);
  assert.equal(r.code, 0, r.stderr);
  const status = JSON.parse(r.stdout) as { socket: string; pid: number };
  assert.equal(status.socket, sb.sock);
  assert.equal(status.pid, pid);
  const text = await tt(['status'], sb.env);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(sb.sock), text.stdout);
});

test('tt-agent status does not adopt a runtime socket of another uid', { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, async (t) => {
  const sb = sandbox(t);
  const dir = path.dirname(sb.sock);
  fs.mkdirSync(dir, { mode: 0o700 });
  // A socket file that is not ours, where ours would be.
  const { spawnSync } = await import('node:child_process');
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sb.sock)}, () => process.exit(0))`]);
  fs.chownSync(sb.sock, 65534, 65534);
  const r = await tt(['status'], sb.env);
  assert.equal(r.code, 1);
  assert.equal(firstLine(r.stderr), `tt-agent: no agent: SSH_AUTH_SOCK is not set, and ${sb.sock} belongs to uid 65534, not to you.`);
});
