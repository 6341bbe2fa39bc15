// Token keys through tt-agent, judged by real OpenSSH: ssh-add -s/-l/-L/-e/-D, ssh logins to
// a loopback sshd with every key type (RSA with rsa-sha2-256 and rsa-sha2-512 forced),
// ssh-keygen -Y sign/verify, and tt-agent add / remove. Needs `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { run, sshLogin, startSshd, type Sshd } from '../helpers/sshd';

interface Setup {
  tok: TestToken;
  agent: RunningAgent;
  sshd: Sshd;
  /** environment for ssh-add / tt-agent: this agent, this token, the PIN through SSH_ASKPASS */
  env: NodeJS.ProcessEnv;
  askpass(pin: string): string;
}

async function setup(t: test.TestContext): Promise<Setup> {
  const tok = makeToken();
  const agent = await startAgent({ env: tok.env });
  const sshd = await startSshd();
  t.after(async () => {
    await agent.stop();
    await sshd.stop();
    tok.cleanup();
  });
  const askpass = (pin: string) => {
    const file = path.join(tok.dir, `askpass-${pin}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${pin}'\n`, { mode: 0o700 });
    return file;
  };
  const env = { ...agent.env, SOFTHSM2_CONF: tok.conf, SSH_ASKPASS: askpass(tok.pin), SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  return { tok, agent, sshd, env, askpass };
}

/** `ssh-add -L` lines by comment (the key label). */
async function agentKeys(env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const r = await run('ssh-add', ['-L'], { env });
  assert.equal(r.code, 0, r.stderr);
  return new Map(r.stdout.trim().split('\n').map((l) => [l.split(' ')[2], l] as [string, string]));
}

test('ssh-add -s loads the token, and ssh logs in with every key type', { timeout: 180_000 }, async (t) => {
  const { tok, agent, sshd, env } = await setup(t);
  const add = await run('ssh-add', ['-s', tok.module], { env });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stderr, /Card added/);

  const list = await run('ssh-add', ['-l'], { env });
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^2048 SHA256:\S+ rsa2048 \(RSA\)$/m);
  assert.match(list.stdout, /^256 SHA256:\S+ p256 \(ECDSA\)$/m);
  assert.match(list.stdout, /^384 SHA256:\S+ p384 \(ECDSA\)$/m);
  assert.match(list.stdout, /^521 SHA256:\S+ p521 \(ECDSA\)$/m);
  assert.match(list.stdout, /^256 SHA256:\S+ ed25519 \(ED25519\)$/m);

  const keys = await agentKeys(env);
  const cases: [string, string | undefined][] = [
    ['rsa2048', 'rsa-sha2-256'],
    ['rsa2048', 'rsa-sha2-512'],
    ['rsa3072', 'rsa-sha2-512'],
    ['/CN=cert-only', 'rsa-sha2-256'],
    ['p256', undefined],
    ['p384', undefined],
    ['p521', undefined],
    ['ed25519', undefined],
    ['mismatch', undefined],
  ];
  for (const [label, algorithm] of cases) {
    const line = keys.get(label);
    assert.ok(line, `ssh-add -L lists ${label}`);
    const pub = path.join(tok.dir, `${label}.pub`);
    fs.writeFileSync(pub, `${line}\n`);
    // Only this key is authorized, and only this algorithm accepted: a login proves the signature.
    sshd.setAuthorizedKeys([line]);
    const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: pub, pubkeyAlgorithms: algorithm, command: 'echo logged-in' });
    assert.equal(r.code, 0, `${label} ${algorithm ?? ''}: ${r.stderr}\n${agent.log().slice(-2000)}`);
    assert.equal(r.stdout.trim(), 'logged-in');
  }
});

test('ssh-keygen -Y sign with a token key through the agent verifies', { timeout: 120_000 }, async (t) => {
  const { tok, env } = await setup(t);
  assert.equal((await run('ssh-add', ['-s', tok.module], { env })).code, 0);
  const keys = await agentKeys(env);
  for (const label of ['p256', 'ed25519', 'rsa2048']) {
    const pub = path.join(tok.dir, `${label}.pub`);
    fs.writeFileSync(pub, `${keys.get(label)}\n`);
    const msg = path.join(tok.dir, `${label}.msg`);
    fs.writeFileSync(msg, `signed by ${label}\n`);
    const sign = await run('ssh-keygen', ['-Y', 'sign', '-f', pub, '-n', 'file', msg], { env });
    assert.equal(sign.code, 0, sign.stderr);
    const allowed = path.join(tok.dir, `${label}.allowed`);
    fs.writeFileSync(allowed, `signer@example ${keys.get(label)}\n`);
    const verify = await run('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'signer@example', '-n', 'file', '-s', `${msg}.sig`], {
      env,
      input: fs.readFileSync(msg, 'utf8'),
    });
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /Good "file" signature for signer@example/);
  }
});

test('ssh-add -e and -D remove token keys, and adding again works', { timeout: 120_000 }, async (t) => {
  const { tok, agent, sshd, env } = await setup(t);
  assert.equal((await run('ssh-add', ['-s', tok.module], { env })).code, 0);
  const e = await run('ssh-add', ['-e', tok.module], { env });
  assert.equal(e.code, 0, e.stderr);
  assert.match((await run('ssh-add', ['-l'], { env })).stdout, /no identities/);

  assert.equal((await run('ssh-add', ['-s', tok.module], { env })).code, 0);
  assert.equal((await run('ssh-add', ['-D'], { env })).code, 0);
  assert.match((await run('ssh-add', ['-l'], { env })).stdout, /no identities/);

  const again = await run('ssh-add', ['-s', tok.module], { env });
  assert.equal(again.code, 0, `${again.stderr}\n${agent.log().slice(-2000)}`);
  const line = (await agentKeys(env)).get('p256')!;
  const pub = path.join(tok.dir, 'p256.pub');
  fs.writeFileSync(pub, `${line}\n`);
  sshd.setAuthorizedKeys([line]);
  const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: pub });
  assert.equal(r.code, 0, r.stderr);
});

test('tt-agent add and remove: per-token report, wrong PIN named, keys gone after remove', { timeout: 120_000 }, async (t) => {
  const { tok, env } = await setup(t);
  const add = await run(process.execPath, [TT_AGENT_BIN, 'add', tok.module, '-t', '1h'], { env });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^token tt-test \(serial [0-9a-f]+\): added 8 keys$/m);
  assert.match((await run('ssh-add', ['-l'], { env })).stdout, /p384 \(ECDSA\)/);

  const remove = await run(process.execPath, [TT_AGENT_BIN, 'remove', tok.module], { env });
  assert.equal(remove.code, 0, remove.stderr);
  assert.match(remove.stdout, /removed the keys of/);
  assert.match((await run('ssh-add', ['-l'], { env })).stdout, /no identities/);
});

// Needs the agent to keep the per-token report of a failed load in status@tt-agent (loadReports).
test('tt-agent add with a wrong PIN names the token and the tries left; the agent stays up', { timeout: 120_000 }, async (t) => {
  const { tok, env, askpass } = await setup(t);
  const wrong = await run(process.execPath, [TT_AGENT_BIN, 'add', tok.module], { env: { ...env, SSH_ASKPASS: askpass('000000') } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /PIN incorrect for token tt-test \(few tries left\)/);
  // The agent stays up and the right PIN works afterwards.
  const right = await run(process.execPath, [TT_AGENT_BIN, 'add', tok.module], { env });
  assert.equal(right.code, 0, right.stderr);
});
