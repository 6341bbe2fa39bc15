// OpenSSH certificates for file keys, judged by the real sshd with TrustedUserCAKeys and an
// AuthorizedPrincipalsFile (no authorized_keys entry: only a certificate can log in):
// `ssh-add KEY` with KEY-cert.pub beside it adds both, `ssh` logs in with the certificate,
// RSA certificates sign with rsa-sha2-256/512, `ssh-add -d CERT` removes only the certificate,
// an expired certificate or one for another principal does not log in, and a signature made
// with a certificate identity verifies against a cert-authority allowed_signers line.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { certBlob, makeCa, type TestCa } from '../helpers/ssh-ca';
import { run, sshLogin, startSshd, type Sshd } from '../helpers/sshd';
import { makeFileKeys, type FileKey } from './file-keys';

let agent: RunningAgent;
let sshd: Sshd;
let ca: TestCa;
let keys: Record<string, FileKey>;
let keyDir: string;
let cleanupKeys: () => void;
/** The certificate of each key, in the public-only directory (IdentityFile for ssh). */
const certOf = (k: FileKey) => k.pubPath.replace(/\.pub$/, '-cert.pub');
const sshAdd = (args: string[]) => run('ssh-add', args, { env: agent.env, timeoutMs: 20_000 });

before(async () => {
  const made = makeFileKeys();
  keys = made.keys;
  keyDir = made.dir;
  cleanupKeys = made.cleanup;
  ca = makeCa(keyDir);
  for (const k of Object.values(keys)) {
    const cert = ca.sign(`${k.path}.pub`, { keyId: `alice-${k.name}`, principals: ['alice'] });
    fs.copyFileSync(cert, certOf(k));
  }
  const principals = path.join(keyDir, 'principals');
  fs.writeFileSync(principals, 'alice\n');
  sshd = await startSshd({
    authorizedKeys: [],
    config: [`TrustedUserCAKeys ${ca.pubPath}`, `AuthorizedPrincipalsFile ${principals}`],
  });
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
  await sshd?.stop();
  cleanupKeys?.();
});

test('ssh-add KEY adds the key and its certificate for every type; -l shows the -CERT types, -L the certificate blobs', async () => {
  for (const k of Object.values(keys)) {
    const r = await sshAdd([k.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Certificate added: .*-cert\\.pub \\(alice-${k.name}\\)`));
  }
  const l = await sshAdd(['-l']);
  for (const k of Object.values(keys)) {
    assert.match(l.stdout, new RegExp(`test-${k.name} \\(${k.listType}\\)$`, 'm'));
    assert.match(l.stdout, new RegExp(`test-${k.name} \\(${k.listType}-CERT\\)$`, 'm'));
  }
  const listed = (await sshAdd(['-L'])).stdout.trim().split('\n').map((line) => Buffer.from(line.split(' ')[1], 'base64'));
  for (const k of Object.values(keys)) {
    assert.ok(listed.some((b) => b.equals(certBlob(certOf(k)))), `${k.name} certificate listed as its blob`);
  }
});

test('tt-agent list shows certificates as ssh-add -l does, and --json names their key id', async () => {
  const ssh = (await sshAdd(['-l'])).stdout.trim().split('\n').sort();
  const r = await run(process.execPath, [TT_AGENT_BIN, 'list'], { env: agent.env });
  assert.equal(r.code, 0, r.stderr);
  // Same lines, each followed by where the key lives.
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.replace(/ {2}\[file\]$/, '')).sort(), ssh);
  const json = JSON.parse((await run(process.execPath, [TT_AGENT_BIN, 'list', '--json'], { env: agent.env })).stdout);
  const cert = json.find((k: { type: string }) => k.type === 'ssh-ed25519-cert-v01@openssh.com');
  assert.equal(cert.keyId, 'alice-ed25519');
  assert.equal(cert.source, 'file');
  assert.equal(cert.publicKey, fs.readFileSync(certOf(keys.ed25519), 'utf8').trim().split(' ').slice(0, 2).join(' '));
});

for (const name of ['ed25519', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'rsa']) {
  test(`ssh logs in with the ${name} certificate through the agent; sshd accepts it as signed by the CA`, async () => {
    const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: certOf(keys[name]), command: 'echo cert-login' });
    assert.equal(r.code, 0, `${r.stderr}\n${sshd.log().slice(-2000)}`);
    assert.equal(r.stdout.trim(), 'cert-login');
    assert.match(sshd.log(), new RegExp(`Accepted certificate ID "alice-${name}" \\(serial 0\\) signed by ED25519 CA`));
  });
}

for (const alg of ['rsa-sha2-256', 'rsa-sha2-512']) {
  test(`the RSA certificate signs with ${alg} when ssh asks for ${alg}-cert-v01@openssh.com`, async () => {
    const before = agent.log().length;
    const r = await sshLogin(sshd, {
      agentSock: agent.sock,
      identityFile: certOf(keys.rsa),
      pubkeyAlgorithms: `${alg}-cert-v01@openssh.com`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(agent.log().slice(before), new RegExp(`signed \\d+ bytes with ssh-rsa-cert-v01@openssh.com .* as ${alg} `));
  });
}

test('ssh-add -T CERT test-signs with every certificate identity and verifies the result', async () => {
  for (const k of Object.values(keys)) {
    const r = await sshAdd(['-T', certOf(k)]);
    assert.equal(r.code, 0, `${k.name}: ${r.stderr}`);
  }
});

test('ssh-keygen -Y sign with a certificate identity verifies against a cert-authority allowed_signers line', async () => {
  const dir = fs.mkdtempSync(path.join(agent.dir, 'sig-'));
  const msg = path.join(dir, 'msg');
  fs.writeFileSync(msg, 'signed with a certificate\n');
  const s = await run('ssh-keygen', ['-Y', 'sign', '-f', certOf(keys.ed25519), '-n', 'file', msg], { env: agent.env });
  assert.equal(s.code, 0, s.stderr);
  // The signature embeds the certificate: a CA line verifies it, no line names the key itself.
  assert.ok(fs.readFileSync(`${msg}.sig`, 'utf8').includes('BEGIN SSH SIGNATURE'));
  const allowed = path.join(dir, 'allowed');
  fs.writeFileSync(allowed, `alice cert-authority ${ca.pub}\n`);
  const v = await run('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'alice', '-n', 'file', '-s', `${msg}.sig`], {
    input: fs.readFileSync(msg, 'utf8'),
  });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /Good "file" signature for alice with ED25519-CERT key/);
});

test('an expired certificate and one naming another principal do not log in', async () => {
  const other = makeFileKeys();
  try {
    const expired = other.keys.ed25519;
    const bob = other.keys.ecdsa256;
    const expiredCert = ca.sign(`${expired.path}.pub`, { keyId: 'expired', principals: ['alice'], validity: '20200101:20200102' });
    const bobCert = ca.sign(`${bob.path}.pub`, { keyId: 'bob', principals: ['bob'] });
    for (const [k, cert] of [[expired, expiredCert], [bob, bobCert]] as const) {
      fs.copyFileSync(cert, certOf(k));
      // Debian 12's ssh-add adds an expired certificate; sshd is the one to refuse it.
      const a = await sshAdd([k.path]);
      assert.equal(a.code, 0, a.stderr);
    }
    let r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: certOf(expired) });
    assert.notEqual(r.code, 0, 'expired certificate must not log in');
    assert.match(sshd.log(), /[Cc]ertificate invalid: expired/);
    r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: certOf(bob) });
    assert.notEqual(r.code, 0, 'a certificate for bob must not log in as a user whose principals file says alice');
    assert.match(sshd.log(), /[Cc]ertificate does not contain an authorized principal/);
    // Both were offered from the agent: the refusal is the server's judgement of the certificate.
    const listed = (await sshAdd(['-L'])).stdout;
    for (const cert of [expiredCert, bobCert]) assert.ok(listed.includes(certBlob(cert).toString('base64')));
  } finally {
    other.cleanup();
  }
});

test('ssh-add -d CERT removes only the certificate; the plain key stays and the certificate no longer logs in', async () => {
  const k = keys.ecdsa384;
  const r = await sshAdd(['-d', certOf(k)]);
  assert.equal(r.code, 0, r.stderr);
  const l = await sshAdd(['-l']);
  assert.match(l.stdout, /test-ecdsa384 \(ECDSA\)$/m);
  assert.doesNotMatch(l.stdout, /test-ecdsa384 \(ECDSA-CERT\)$/m);
  const login = await sshLogin(sshd, { agentSock: agent.sock, identityFile: certOf(k) });
  assert.notEqual(login.code, 0);
});

test('ssh-add -t: the certificate gets the lifetime too, and goes when it ends', async () => {
  const own = await startAgent();
  try {
    const r = await run('ssh-add', ['-t', '2', keys.ed25519.path], { env: own.env });
    assert.equal(r.code, 0, r.stderr);
    await own.waitForLog(/added ssh-ed25519-cert-v01@openssh.com \(key id "alice-ed25519"\) .*\[lifetime [12]s\]/);
    await own.waitForLog(/lifetime expired, removed ssh-ed25519-cert-v01@openssh.com/, 10_000);
    const l = await run('ssh-add', ['-l'], { env: own.env });
    assert.doesNotMatch(l.stdout, /CERT/);
  } finally {
    await own.stop();
  }
});
