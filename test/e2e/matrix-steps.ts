// The steps token-matrix.test.ts runs against every module: what a user does with a token,
// judged by OpenSSH, and the same on OpenSSH's own ssh-agent for the timings.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type test from 'node:test';
import { agentEnv, connects, startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { killAndWait, run, sshLogin, type RunResult, type Sshd } from '../helpers/sshd';
import { writeAskpass } from '../helpers/vcard';

export type Wrap = (cmd: string, args: string[]) => [string, string[]];

/** One module with one token, made by a fixture of test/helpers. */
export interface Subject {
  name: string;
  /** as a user types it */
  module: string;
  pin: string;
  /** environment of every process that uses the token */
  env: NodeJS.ProcessEnv;
  /** runs a process where the module sees its private config (mount namespace), if any */
  wrap?: Wrap;
  /** SSH keys the token holds, by type, e.g. ['ssh-rsa', 'ecdsa-sha2-nistp256'] */
  keyTypes: string[];
  /** token label as tt-agent list / status show it */
  tokenLabel: string;
  /** comments of keys OpenSSH's agent cannot sign with (CKA_ALWAYS_AUTHENTICATE) */
  openSshCannotSign?: string[];
}

export interface Timings {
  /** tt-agent add (a Node CLI) on tt-agent, ssh-add -s on OpenSSH's agent */
  add: number;
  /** ssh-add -s on tt-agent, after ssh-add -D (the host and module are warm) */
  sshAddS?: number;
  firstSignature: number;
  login: number;
}

export const lines = (s: string) => s.split('\n').filter((l) => l !== '');
const keyOf = (line: string) => line.split(' ').slice(0, 2).join(' ');
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

export function inside(s: Subject, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const [c, a] = s.wrap ? s.wrap(cmd, args) : [cmd, args];
  return run(c, a, { env: opts.env ?? s.env, timeoutMs: opts.timeoutMs ?? 60_000 });
}

/** `tt-agent pubkey` against `ssh-keygen -D` (whole lines: key and comment); returns ssh-keygen's lines. */
export async function comparePubkey(s: Subject): Promise<string[]> {
  const theirs = await inside(s, 'ssh-keygen', ['-D', s.module]);
  assert.equal(theirs.code, 0, theirs.stderr);
  const ours = await inside(s, process.execPath, [TT_AGENT_BIN, 'pubkey', s.module]);
  assert.equal(ours.code, 0, ours.stderr);
  const want = lines(theirs.stdout).sort();
  assert.deepEqual(want.map((l) => l.split(' ')[0]).sort(), [...s.keyTypes].sort(), `${s.name}: ssh-keygen -D lists the token's keys`);
  assert.deepEqual(lines(ours.stdout).sort(), want, `${s.name}: tt-agent pubkey equals ssh-keygen -D`);
  return want;
}

/** Signs with `line`'s key through the agent at `env` and verifies; returns the elapsed ms of the signing. */
export async function signAndVerify(dir: string, env: NodeJS.ProcessEnv, line: string, tag: string): Promise<number> {
  const base = path.join(dir, `${fileSafe(tag)}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(`${base}.pub`, `${line}\n`);
  fs.writeFileSync(`${base}.msg`, `signed by ${tag}\n`);
  const t0 = process.hrtime.bigint();
  const sign = await run('ssh-keygen', ['-Y', 'sign', '-f', `${base}.pub`, '-n', 'file', `${base}.msg`], { env });
  const elapsed = ms(t0);
  assert.equal(sign.code, 0, `${tag}: ${sign.stderr}`);
  fs.writeFileSync(`${base}.allowed`, `signer@example ${line}\n`);
  const verify = await run('ssh-keygen', ['-Y', 'verify', '-f', `${base}.allowed`, '-I', 'signer@example', '-n', 'file', '-s', `${base}.msg.sig`], {
    env,
    input: fs.readFileSync(`${base}.msg`, 'utf8'),
  });
  assert.equal(verify.code, 0, `${tag}: ${verify.stderr}`);
  return elapsed;
}

/** An ssh login offering only `line`'s key from the agent at `sock`; returns the elapsed ms. */
export async function loginWith(sshd: Sshd, dir: string, sock: string, line: string, tag: string): Promise<number> {
  const pub = path.join(dir, `${fileSafe(tag)}-login.pub`);
  fs.writeFileSync(pub, `${line}\n`);
  sshd.setAuthorizedKeys([line]);
  const t0 = process.hrtime.bigint();
  const r = await sshLogin(sshd, { agentSock: sock, identityFile: pub, command: 'echo logged-in' });
  const elapsed = ms(t0);
  assert.equal(r.code, 0, `${tag}: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'logged-in');
  return elapsed;
}

/** tt-agent: add, list, sign every key, log in with every key, status, then ssh-add -D and ssh-add -s. */
export async function exerciseTtAgent(t: test.TestContext, s: Subject, sshd: Sshd, want: string[]): Promise<{ timings: Timings; agent: RunningAgent; env: NodeJS.ProcessEnv }> {
  const agent = await startAgent({ env: s.env, wrap: s.wrap });
  t.after(() => agent.stop());
  const askpass = writeAskpass(agent.dir, 'pin', s.pin);
  const env = { ...agent.env, SSH_ASKPASS: askpass.file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  const why = () => agent.log().slice(-3000);

  let t0 = process.hrtime.bigint();
  const add = await run(process.execPath, [TT_AGENT_BIN, 'add', s.module], { env, timeoutMs: 60_000 });
  const addMs = ms(t0);
  assert.equal(add.code, 0, `${add.stdout}${add.stderr}\n${why()}`);
  assert.match(add.stdout, new RegExp(`added ${want.length} keys?`));
  const listed = lines((await run('ssh-add', ['-L'], { env })).stdout).sort();
  assert.deepEqual(listed, want, `${s.name}: ssh-add -L shows the keys with ssh-keygen -D's comments`);

  let firstSignature = 0;
  for (const [i, line] of want.entries()) {
    const elapsed = await signAndVerify(agent.dir, env, line, `${s.name}-${i}`).catch((err) => assert.fail(`${err}\n${why()}`));
    if (i === 0) firstSignature = elapsed;
  }
  let login = 0;
  for (const [i, line] of want.entries()) {
    const elapsed = await loginWith(sshd, agent.dir, agent.sock, line, `${s.name}-${i}`).catch((err) => assert.fail(`${err}\n${why()}`));
    if (i === 0) login = elapsed;
  }

  const list = await run(process.execPath, [TT_AGENT_BIN, 'list'], { env });
  assert.equal(list.code, 0, list.stderr);
  saneText(list.stdout, s);
  for (const line of want) assert.ok(list.stdout.includes(line.split(' ').slice(2).join(' ')), `tt-agent list shows ${line}:\n${list.stdout}`);
  const status = await run(process.execPath, [TT_AGENT_BIN, 'status'], { env });
  assert.equal(status.code, 0, status.stderr);
  saneText(status.stdout, s);
  assert.match(status.stdout, /host\s+pid \d+, running/);
  assert.match(status.stdout, new RegExp(`token ${escape(s.tokenLabel)}`));

  assert.equal((await run('ssh-add', ['-D'], { env })).code, 0);
  t0 = process.hrtime.bigint();
  const sadd = await run('ssh-add', ['-s', s.module], { env, timeoutMs: 60_000 });
  const sshAddS = ms(t0);
  assert.equal(sadd.code, 0, `${sadd.stderr}\n${why()}`);
  assert.deepEqual(lines((await run('ssh-add', ['-L'], { env })).stdout).sort(), want, 'ssh-add -s loads the same keys');
  return { timings: { add: addMs, sshAddS, firstSignature, login }, agent, env };
}

// ssh's IdentityFile is split at blanks: names made from subject names must not have any.
const fileSafe = (tag: string) => tag.replace(/[^A-Za-z0-9_.-]+/g, '-');

function saneText(text: string, s: Subject): void {
  assert.ok(!text.includes('\0'), `no NUL bytes in:\n${JSON.stringify(text)}`);
  assert.ok(!/^\s*:|\(\s*\)/m.test(text), `every slot is named:\n${text}`);
  assert.ok(text.includes(s.tokenLabel), `names token ${s.tokenLabel}:\n${text}`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** OpenSSH's ssh-agent on the same token: ssh-add -s, a signature, a login; the timings. */
export async function exerciseOpenSsh(t: test.TestContext, s: Subject, sshd: Sshd, want: string[]): Promise<Timings> {
  const dir = fs.mkdtempSync(path.join(sshd.dir, 'ssh-agent-'));
  const sock = path.join(dir, 'agent.sock');
  const [c, a] = s.wrap ? s.wrap('ssh-agent', ['-D', '-a', sock]) : ['ssh-agent', ['-D', '-a', sock]];
  const child = spawn(c, a, { env: s.env, stdio: 'ignore' });
  t.after(() => killAndWait(child));
  const end = Date.now() + 10_000;
  while (!(await connects(sock))) {
    assert.ok(Date.now() < end && child.exitCode === null, 'ssh-agent starts');
    await new Promise((r) => setTimeout(r, 25));
  }
  const askpass = writeAskpass(dir, 'pin', s.pin);
  const env = { ...agentEnv(sock), SSH_ASKPASS: askpass.file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  const t0 = process.hrtime.bigint();
  const add = await run('ssh-add', ['-s', s.module], { env, timeoutMs: 60_000 });
  const addMs = ms(t0);
  assert.equal(add.code, 0, add.stderr);
  const usable = want.filter((l) => !(s.openSshCannotSign ?? []).includes(l.split(' ').slice(2).join(' ')));
  const firstSignature = await signAndVerify(dir, env, usable[0]!, `openssh-${s.name}`);
  const login = await loginWith(sshd, dir, sock, usable[0]!, `openssh-${s.name}`);
  return { add: addMs, firstSignature, login };
}
