// CA-signed OpenSSH certificates for token keys, judged by the real sshd with
// TrustedUserCAKeys and an AuthorizedPrincipalsFile (no authorized_keys: only a certificate
// logs in). Certificates come with `tt-agent add MODULE --cert FILE`, with `--cert-dir DIR`,
// and in a hand-encoded associated-certs-v00@openssh.com constraint (what OpenSSH 10's
// `ssh-add -s MODULE [-C] CERT` sends; Debian 12's ssh-add cannot). A certificate lists as
// itself, signs with the token key, and leaves with the module. Needs `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test, { after, before } from 'node:test';
import { encodeRequest } from '../../src/protocol/agent-messages';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { certBlob, makeCa, type TestCa } from '../helpers/ssh-ca';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { run, sshLogin, startSshd, type Sshd } from '../helpers/sshd';
import { agentCall } from '../protocol/helpers';

let tok: TestToken;
let ca: TestCa;
let sshd: Sshd;
let certDir: string;
/** authorized_keys lines of the token's keys, by label. */
const tokenPub: Record<string, string> = {};

before(async () => {
  tok = makeToken({
    setEnv: false,
    tokens: [{ label: 'card', keys: [
      { kind: 'ec:prime256v1', id: '01', label: 'card-p256' },
      { kind: 'ed25519', id: '02', label: 'card-ed25519' },
      { kind: 'rsa:2048', id: '03', label: 'card-rsa' },
    ] }],
  });
  const pub = await run(process.execPath, [TT_AGENT_BIN, 'pubkey', tok.module], { env: tok.env });
  assert.equal(pub.code, 0, pub.stderr);
  for (const line of pub.stdout.trim().split('\n')) tokenPub[line.split(' ')[2]] = line;
  certDir = path.join(tok.dir, 'certs');
  fs.mkdirSync(certDir);
  ca = makeCa(tok.dir);
  for (const label of ['card-p256', 'card-ed25519', 'card-rsa']) {
    fs.writeFileSync(path.join(certDir, `${label}.pub`), `${tokenPub[label]}\n`);
    ca.sign(path.join(certDir, `${label}.pub`), { keyId: `alice@${label}`, principals: ['alice'] });
  }
  const principals = path.join(tok.dir, 'principals');
  fs.writeFileSync(principals, 'alice\n');
  sshd = await startSshd({ authorizedKeys: [], config: [`TrustedUserCAKeys ${ca.pubPath}`, `AuthorizedPrincipalsFile ${principals}`] });
});
after(async () => {
  await sshd?.stop();
  tok?.cleanup();
});

async function withAgent(t: test.TestContext): Promise<{ agent: RunningAgent; env: NodeJS.ProcessEnv }> {
  const agent = await startAgent({ env: tok.env });
  t.after(() => agent.stop());
  const askpass = path.join(agent.dir, 'askpass.sh');
  fs.writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${tok.pin}'\n`, { mode: 0o700 });
  return { agent, env: { ...agent.env, SOFTHSM2_CONF: tok.conf, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } };
}

const certFile = (label: string) => path.join(certDir, `${label}-cert.pub`);
const ttAgent = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [TT_AGENT_BIN, ...args], { env, timeoutMs: 60_000 });

async function listed(env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run('ssh-add', ['-l'], { env });
  return r.stdout;
}

test('tt-agent add --cert: the token key and its certificate; ssh logs in with the certificate (every key type)', { timeout: 120_000 }, async (t) => {
  const { agent, env } = await withAgent(t);
  const add = await ttAgent(['add', tok.module, '--cert', certFile('card-p256'), '--cert', certFile('card-ed25519'), '--cert', certFile('card-rsa')], env);
  assert.equal(add.code, 0, `${add.stderr}\n${agent.log().slice(-3000)}`);
  assert.match(add.stdout, /token card \(serial \S+\): added 3 keys/);
  assert.match(add.stdout, /certificate .*card-p256-cert\.pub \(key id "alice@card-p256"\): added/);
  const l = await listed(env);
  assert.match(l, /card-p256 \(ECDSA\)$/m);
  assert.match(l, /card-p256 \(ECDSA-CERT\)$/m);
  assert.match(l, /card-ed25519 \(ED25519-CERT\)$/m);
  assert.match(l, /card-rsa \(RSA-CERT\)$/m);

  for (const [label, alg] of [['card-p256', undefined], ['card-ed25519', undefined], ['card-rsa', 'rsa-sha2-512-cert-v01@openssh.com'], ['card-rsa', 'rsa-sha2-256-cert-v01@openssh.com']] as const) {
    const before = agent.log().length;
    const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: certFile(label), pubkeyAlgorithms: alg, command: 'echo card-cert' });
    assert.equal(r.code, 0, `${label}: ${r.stderr}\n${agent.log().slice(-1500)}`);
    assert.equal(r.stdout.trim(), 'card-cert');
    assert.match(sshd.log(), new RegExp(`Accepted certificate ID "alice@${label}"`));
    // The signature was made on the token, with the certified key.
    const signed = agent.log().slice(before);
    assert.match(signed, new RegExp(`signed \\d+ bytes with \\S+-cert-v01@openssh.com \\(key id "alice@${label}"\\)`));
    if (alg) assert.match(signed, new RegExp(`as ${alg.replace('-cert-v01@openssh.com', '')} `));
  }

  // ssh-keygen -Y sign with the certificate identity: made on the token, verified against the CA.
  const msg = path.join(agent.dir, 'msg');
  fs.writeFileSync(msg, 'signed on the card, certified by the CA\n');
  const s = await run('ssh-keygen', ['-Y', 'sign', '-f', certFile('card-ed25519'), '-n', 'file', msg], { env });
  assert.equal(s.code, 0, s.stderr);
  const allowed = path.join(agent.dir, 'allowed');
  fs.writeFileSync(allowed, `alice cert-authority ${ca.pub}\n`);
  const v = await run('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'alice', '-n', 'file', '-s', `${msg}.sig`], { input: fs.readFileSync(msg, 'utf8') });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /Good "file" signature for alice with ED25519-CERT key/);

  // Unloading the module takes the certificates with the keys.
  const rm = await ttAgent(['remove', tok.module], env);
  assert.equal(rm.code, 0, rm.stderr);
  assert.doesNotMatch(await listed(env), /CERT/);
});

test('tt-agent add --cert-dir: only the certificates whose key is on the token', { timeout: 60_000 }, async (t) => {
  const { agent, env } = await withAgent(t);
  const dir = path.join(tok.dir, 'mixed');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(certFile('card-ed25519'), path.join(dir, 'card-ed25519-cert.pub'));
  // A certificate for a key that is not on the token, and a symlink that must not be followed.
  const stranger = path.join(dir, 'stranger');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  ca.sign(`${stranger}.pub`, { keyId: 'stranger', principals: ['alice'] });
  fs.symlinkSync(certFile('card-p256'), path.join(dir, 'linked-cert.pub'));
  const add = await ttAgent(['add', tok.module, '--cert-dir', dir], env);
  assert.equal(add.code, 0, `${add.stderr}\n${agent.log().slice(-3000)}`);
  assert.match(add.stdout, /card-ed25519-cert\.pub \(key id "alice@card-ed25519"\): added/);
  const l = await listed(env);
  assert.match(l, /card-ed25519 \(ED25519-CERT\)$/m);
  assert.doesNotMatch(l, /ECDSA-CERT/);
  assert.equal((l.match(/CERT/g) ?? []).length, 1, l);
});

test('certificates named in ~/.config/tt-agent/config come with a plain tt-agent add', { timeout: 60_000 }, async (t) => {
  const { agent, env } = await withAgent(t);
  const xdg = path.join(tok.dir, 'xdg');
  fs.mkdirSync(path.join(xdg, 'tt-agent'), { recursive: true });
  const dir = path.join(tok.dir, 'configured');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(certFile('card-ed25519'), path.join(dir, 'card-ed25519-cert.pub'));
  fs.writeFileSync(path.join(xdg, 'tt-agent', 'config'), `# certificates for the card's keys\ncertificate ${certFile('card-p256')}\ncertificate-dir ${dir}\n`);
  const add = await ttAgent(['add', tok.module], { ...env, XDG_CONFIG_HOME: xdg });
  assert.equal(add.code, 0, `${add.stderr}\n${agent.log().slice(-3000)}`);
  assert.match(add.stdout, /card-p256-cert\.pub \(key id "alice@card-p256"\): added/);
  assert.match(add.stdout, /card-ed25519-cert\.pub \(key id "alice@card-ed25519"\): added/);
  const l = await listed(env);
  assert.match(l, /\(ECDSA-CERT\)$/m);
  assert.match(l, /\(ED25519-CERT\)$/m);
  // A bad line is named, and nothing is added.
  fs.writeFileSync(path.join(xdg, 'tt-agent', 'config'), 'Host x\ncertificate /nope\n');
  const bad = await ttAgent(['add', tok.module], { ...env, XDG_CONFIG_HOME: xdg });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /config:2: certificate is a global setting/);
});

test('associated-certs-v00@openssh.com as OpenSSH 10 encodes it: certs_only loads only the certificate; plain and certificate otherwise', { timeout: 60_000 }, async (t) => {
  const { agent, env } = await withAgent(t);
  const addRequest = (certOnly: boolean, certs: Buffer[]) =>
    encodeRequest({
      type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED',
      readerId: tok.module,
      pin: Buffer.from(tok.pin),
      constraints: [{ kind: 'associated-certs', certOnly, certs }],
    });
  assert.deepEqual(await agentCall(agent.sock, addRequest(true, [certBlob(certFile('card-p256'))])), Buffer.of(6));
  let l = await listed(env);
  assert.match(l, /card-p256 \(ECDSA-CERT\)$/m);
  assert.doesNotMatch(l, /\((ECDSA|ED25519|RSA)\)$/m, 'certs_only: no plain token keys');
  const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: certFile('card-p256') });
  assert.equal(r.code, 0, r.stderr);

  // Without certs_only: the plain keys too.
  assert.deepEqual(await agentCall(agent.sock, addRequest(false, [certBlob(certFile('card-rsa'))])), Buffer.of(6));
  l = await listed(env);
  assert.match(l, /card-rsa \(RSA\)$/m);
  assert.match(l, /card-rsa \(RSA-CERT\)$/m);
  assert.match(l, /card-ed25519 \(ED25519\)$/m);

  // certs_only with no certificate for a key on the token adds nothing: SSH_AGENT_FAILURE.
  const strangerDir = fs.mkdtempSync(path.join(agent.dir, 'x-'));
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(strangerDir, 'k')]);
  const stranger = certBlob(ca.sign(path.join(strangerDir, 'k.pub'), { keyId: 'stranger', principals: ['alice'] }));
  assert.deepEqual(await agentCall(agent.sock, addRequest(true, [stranger])), Buffer.of(5));
  await agent.waitForLog(/certificate "stranger" matches no key on the loaded tokens/);
  // A certificate for a token key whose CA signature does not verify is left out.
  const forged = certBlob(certFile('card-ed25519'));
  forged[forged.length - 5] ^= 1;
  assert.deepEqual(await agentCall(agent.sock, addRequest(true, [forged])), Buffer.of(5));
  await agent.waitForLog(/certificate for token key "card-ed25519" not added: certificate "alice@card-ed25519" has an invalid CA signature/);
  assert.doesNotMatch(await listed(env), /ED25519-CERT/);
});

test('certificates that must not log in: expired (not even added) and for another principal', { timeout: 60_000 }, async (t) => {
  const { agent, env } = await withAgent(t);
  const dir = path.join(tok.dir, 'bad');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'expired.pub'), `${tokenPub['card-p256']}\n`);
  const expired = ca.sign(path.join(dir, 'expired.pub'), { keyId: 'expired', principals: ['alice'], validity: '20200101:20200102' });
  fs.writeFileSync(path.join(dir, 'bob.pub'), `${tokenPub['card-ed25519']}\n`);
  const bob = ca.sign(path.join(dir, 'bob.pub'), { keyId: 'bob', principals: ['bob'] });
  const add = await ttAgent(['add', tok.module, '--cert', expired, '--cert', bob], env);
  assert.equal(add.code, 0, `${add.stderr}\n${agent.log().slice(-3000)}`);
  assert.match(add.stderr, /certificate .*expired-cert\.pub \(key id "expired"\) expired on 2020-01-02.*; not added/);
  assert.doesNotMatch(await listed(env), /ECDSA-CERT/);
  // Sent anyway (as a client that does not check would), the agent leaves it out too; the
  // module is loaded already and this adds nothing new, so the request fails as a whole.
  assert.deepEqual(
    await agentCall(agent.sock, encodeRequest({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED', readerId: tok.module, pin: Buffer.from(tok.pin), constraints: [{ kind: 'associated-certs', certOnly: false, certs: [certBlob(expired)] }] })),
    Buffer.of(5),
  );
  await agent.waitForLog(/certificate "expired" for token key "card-p256" expired; not added/);
  assert.doesNotMatch(await listed(env), /ECDSA-CERT/);

  const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: bob });
  assert.notEqual(r.code, 0, 'a certificate for bob must not log in where the principals file says alice');
  assert.match(sshd.log(), /does not contain an authorized principal/);
});

test("a token certificate's key lifetime follows the certificate's expiry (plus OpenSSH's 5 minutes)", { timeout: 60_000 }, async (t) => {
  const { agent, env } = await withAgent(t);
  const dir = path.join(tok.dir, 'short');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'short.pub'), `${tokenPub['card-ed25519']}\n`);
  const short = ca.sign(path.join(dir, 'short.pub'), { keyId: 'short', principals: ['alice'], validity: '-1m:+10m' });
  const add = await ttAgent(['add', tok.module, '-t', '8h', '--cert', short], env);
  assert.equal(add.code, 0, `${add.stderr}\n${agent.log().slice(-3000)}`);
  const m = /certificate "short" for token key "card-ed25519" leaves the agent at (\S+)/.exec(agent.log());
  assert.ok(m, agent.log());
  const leaves = Date.parse(m[1]);
  const validBefore = Date.now() + 10 * 60_000;
  assert.ok(Math.abs(leaves - (validBefore + 5 * 60_000)) < 60_000, `leaves at ${m[1]}, certificate valid before ${new Date(validBefore).toISOString()}`);
  assert.match(await listed(env), /card-ed25519 \(ED25519-CERT\)$/m);
});
