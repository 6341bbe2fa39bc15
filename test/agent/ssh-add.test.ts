// ssh-add and ssh-keygen against the compiled tt-agent over its real socket: file keys of
// every type, listing, removal, lock, lifetime, confirm through SSH_ASKPASS, and signatures
// that ssh-keygen -Y verify and git verify-commit accept.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { run } from '../helpers/sshd';
import { makeFileKeys, type FileKey } from './file-keys';

let agent: RunningAgent;
let keys: Record<string, FileKey>;
let cleanupKeys: () => void;

before(async () => {
  const made = makeFileKeys();
  keys = made.keys;
  cleanupKeys = made.cleanup;
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
  cleanupKeys?.();
});

const sshAdd = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
  run('ssh-add', args, { env: { ...agent.env, ...extraEnv }, timeoutMs: 20_000 });

async function listed(): Promise<string[]> {
  const r = await sshAdd(['-L']);
  if (r.code === 1 && /no identities/i.test(r.stdout + r.stderr)) return [];
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '));
}

test('ssh-add adds RSA, ECDSA P-256/384/521 and Ed25519 keys; -l and -L list them', async () => {
  for (const k of Object.values(keys)) {
    const r = await sshAdd([k.path]);
    assert.equal(r.code, 0, `${k.name}: ${r.stderr}`);
  }
  const l = await sshAdd(['-l']);
  assert.equal(l.code, 0, l.stderr);
  for (const k of Object.values(keys)) {
    const fp = (await run('ssh-keygen', ['-l', '-f', k.pubPath])).stdout.split(' ')[1];
    assert.match(l.stdout, new RegExp(`^${k.bits} ${fp.replace(/[+/]/g, '\\$&')} test-${k.name} \\(${k.listType}\\)$`, 'm'));
  }
  assert.deepEqual((await listed()).sort(), Object.values(keys).map((k) => k.pub).sort());
});

test('ssh-keygen -Y sign through the agent verifies with -Y verify, for every key type', async () => {
  const dir = fs.mkdtempSync(path.join(agent.dir, 'sig-'));
  const msg = path.join(dir, 'msg');
  fs.writeFileSync(msg, 'signed through tt-agent\n');
  for (const k of Object.values(keys)) {
    fs.rmSync(`${msg}.sig`, { force: true });
    // Only the public key is given: the private half must come from the agent.
    const s = await run('ssh-keygen', ['-Y', 'sign', '-f', k.pubPath, '-n', 'file', msg], { env: agent.env });
    assert.equal(s.code, 0, `${k.name}: ${s.stderr}`);
    const allowed = path.join(dir, 'allowed');
    fs.writeFileSync(allowed, `signer ${k.pub}\n`);
    const v = await run('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'signer', '-n', 'file', '-s', `${msg}.sig`], {
      input: fs.readFileSync(msg, 'utf8'),
    });
    assert.equal(v.code, 0, `${k.name}: ${v.stdout}${v.stderr}`);
    assert.match(v.stdout, /Good "file" signature for signer/);
  }
});

test('a git commit signed through the agent passes git verify-commit', async () => {
  const repo = fs.mkdtempSync(path.join(agent.dir, 'repo-'));
  const k = keys.ed25519;
  const allowed = path.join(repo, '..', 'allowed_signers');
  fs.writeFileSync(allowed, `tester@example.org ${k.pub}\n`);
  const git = (args: string[]) =>
    run('git', ['-c', 'user.name=Tester', '-c', 'user.email=tester@example.org', '-c', 'gpg.format=ssh',
      '-c', `user.signingkey=key::${k.pub}`, '-c', `gpg.ssh.allowedSignersFile=${allowed}`, ...args], {
      cwd: repo,
      env: { ...agent.env, GIT_CONFIG_NOSYSTEM: '1', HOME: repo },
    });
  assert.equal((await git(['init', '-q'])).code, 0);
  fs.writeFileSync(path.join(repo, 'file'), 'x\n');
  assert.equal((await git(['add', 'file'])).code, 0);
  const c = await git(['commit', '-q', '-S', '-m', 'signed']);
  assert.equal(c.code, 0, c.stderr);
  const v = await git(['verify-commit', 'HEAD']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stderr, /Good "git" signature for tester@example.org with ED25519 key/);
});

test('ssh-add -d removes one key, -D removes all', async () => {
  assert.equal((await sshAdd(['-d', keys.rsa.pubPath])).code, 0);
  const after1 = await listed();
  assert.ok(!after1.includes(keys.rsa.pub));
  assert.equal(after1.length, Object.keys(keys).length - 1);
  assert.notEqual((await sshAdd(['-d', keys.rsa.pubPath])).code, 0, 'removing an absent key fails');
  assert.equal((await sshAdd(['-D'])).code, 0);
  assert.deepEqual(await listed(), []);
});

test('ssh-add -x locks (empty list, signing fails), wrong -X fails, right -X unlocks', async () => {
  assert.equal((await sshAdd([keys.ed25519.path])).code, 0);
  const askpass = path.join(agent.dir, 'askpass-lock');
  fs.writeFileSync(askpass, '#!/bin/sh\necho "$LOCK_PASS"\n', { mode: 0o755 });
  const withPass = (p: string) => ({ SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', LOCK_PASS: p });
  assert.equal((await sshAdd(['-x'], withPass('sesame'))).code, 0);
  assert.deepEqual(await listed(), []);
  const msg = path.join(agent.dir, 'locked-msg');
  fs.writeFileSync(msg, 'x');
  const s = await run('ssh-keygen', ['-Y', 'sign', '-f', keys.ed25519.pubPath, '-n', 'file', msg], { env: agent.env });
  assert.notEqual(s.code, 0, 'signing while locked must fail');
  const t0 = Date.now();
  assert.notEqual((await sshAdd(['-X'], withPass('wrong'))).code, 0);
  assert.notEqual((await sshAdd(['-X'], withPass('wrong again'))).code, 0);
  assert.ok(Date.now() - t0 >= 250, 'wrong passphrases are slowed down (0.1 s, then 0.2 s)');
  assert.deepEqual(await listed(), []);
  assert.equal((await sshAdd(['-X'], withPass('sesame'))).code, 0);
  assert.deepEqual(await listed(), [keys.ed25519.pub]);
  assert.equal((await sshAdd(['-D'])).code, 0);
});

test('ssh-add -t: the key disappears when its lifetime ends', async () => {
  assert.equal((await sshAdd(['-t', '1', keys.ecdsa256.path])).code, 0);
  assert.deepEqual(await listed(), [keys.ecdsa256.pub]);
  await agent.waitForLog(/lifetime expired, removed ecdsa-sha2-nistp256/, 5000);
  assert.deepEqual(await listed(), []);
});

test('ssh-add -c: each signature asks SSH_ASKPASS (confirm prompt); yes signs, no refuses', async () => {
  // The askpass program runs in the agent's environment; point the agent at one through a
  // second agent started for this test.
  const answers = path.join(agent.dir, 'confirm-answer');
  const calls = path.join(agent.dir, 'confirm-calls');
  const askpass = path.join(agent.dir, 'askpass-confirm');
  fs.writeFileSync(askpass, `#!/bin/sh\necho "$SSH_ASKPASS_PROMPT|$1" >> ${calls}\n[ "$(cat ${answers})" = yes ]\n`, { mode: 0o755 });
  const confirming = await startAgent({ env: { ...process.env, SSH_ASKPASS: askpass } });
  try {
    const env = confirming.env;
    assert.equal((await run('ssh-add', ['-c', keys.ed25519.path], { env })).code, 0);
    const msg = path.join(confirming.dir, 'msg');
    fs.writeFileSync(msg, 'confirm me');
    const sign = () => run('ssh-keygen', ['-Y', 'sign', '-f', keys.ed25519.pubPath, '-n', 'file', msg], { env });
    fs.writeFileSync(answers, 'yes');
    assert.equal((await sign()).code, 0);
    fs.rmSync(`${msg}.sig`);
    fs.writeFileSync(answers, 'no');
    assert.notEqual((await sign()).code, 0);
    // The prompt says what is signed, with which key, from where, for which process.
    const log = fs.readFileSync(calls, 'utf8');
    assert.equal(log.match(/^confirm\|Allow sshsig namespace file \(sha512\)\?$/gm)?.length, 2, log);
    assert.match(log, /^Key: ssh-ed25519 SHA256:\S+ "test-ed25519"$/m);
    assert.match(log, /^From: local$/m);
    assert.match(log, /^Requested by: ssh-keygen -Y sign -f \S+ -n file \S+ \(\d+\) ← /m);
    await confirming.waitForLog(/not confirmed/);
  } finally {
    await confirming.stop();
  }
});

test('ssh-add -c without any SSH_ASKPASS: the key is added but never signs', async () => {
  const env = { ...process.env };
  delete env.SSH_ASKPASS;
  const bare = await startAgent({ env });
  try {
    assert.equal((await run('ssh-add', ['-c', keys.ed25519.path], { env: bare.env })).code, 0);
    const msg = path.join(bare.dir, 'msg');
    fs.writeFileSync(msg, 'x');
    const s = await run('ssh-keygen', ['-Y', 'sign', '-f', keys.ed25519.pubPath, '-n', 'file', msg], { env: bare.env });
    assert.notEqual(s.code, 0);
    await bare.waitForLog(/no SSH_ASKPASS program/);
  } finally {
    await bare.stop();
  }
});

test('tt-agent -t sets the default lifetime for keys added without one', async () => {
  const short = await startAgent({ args: ['-t', '1'] });
  try {
    assert.equal((await run('ssh-add', [keys.ed25519.path], { env: short.env })).code, 0);
    await short.waitForLog(/lifetime expired, removed ssh-ed25519/, 5000);
    const l = await run('ssh-add', ['-l'], { env: short.env });
    assert.match(l.stdout + l.stderr, /no identities/i);
  } finally {
    await short.stop();
  }
});

test('listAgentIdentities prints what ssh-add -l prints, plus where each key lives', async () => {
  const { listAgentIdentities } = await import('../../src/cli/agent-identities');
  const { PassThrough } = await import('node:stream');
  assert.equal((await sshAdd([keys.ed25519.path])).code, 0);
  assert.equal((await sshAdd([keys.rsa.path])).code, 0);
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d));
  assert.equal(await listAgentIdentities({ socketPath: agent.sock, out }), 0);
  const l = await sshAdd(['-l']);
  const expected = l.stdout.trim().split('\n').map((line) => `${line}  [file]`);
  assert.deepEqual(text.trim().split('\n'), expected);
  assert.equal((await sshAdd(['-D'])).code, 0);
  const empty = new PassThrough();
  let none = '';
  empty.on('data', (d: Buffer) => (none += d));
  assert.equal(await listAgentIdentities({ socketPath: agent.sock, out: empty }), 1);
  assert.equal(none, 'The agent has no identities.\n');
});
