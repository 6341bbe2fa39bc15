// Real logins through tt-agent: OpenSSH's ssh to a loopback sshd with each kind of file key
// (RSA with rsa-sha2-256 and rsa-sha2-512 forced), agent forwarding with a second hop,
// destination restrictions (ssh-add -h) enforced with session-bind, and the Node ssh2 client.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'ssh2';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { run, sshArgs, sshLogin, startSshd, type Sshd } from '../helpers/sshd';
import { makeFileKeys, type FileKey } from './file-keys';

let agent: RunningAgent;
let sshd: Sshd;
let keys: Record<string, FileKey>;
let cleanupKeys: () => void;

before(async () => {
  const made = makeFileKeys();
  keys = made.keys;
  cleanupKeys = made.cleanup;
  sshd = await startSshd({ authorizedKeys: Object.values(keys).map((k) => k.pub) });
  agent = await startAgent();
  for (const k of Object.values(keys)) {
    const r = await run('ssh-add', [k.path], { env: agent.env });
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await agent?.stop();
  await sshd?.stop();
  cleanupKeys?.();
});

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

for (const name of ['ecdsa256', 'ecdsa384', 'ecdsa521', 'ed25519']) {
  test(`ssh logs in with the ${name} file key held by the agent`, async () => {
    const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: keys[name].pubPath, command: 'echo logged-in' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'logged-in');
  });
}

for (const alg of ['rsa-sha2-256', 'rsa-sha2-512']) {
  test(`ssh logs in with the RSA key using ${alg} (forced by PubkeyAcceptedAlgorithms)`, async () => {
    const before = agent.log().length;
    const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.rsa.pubPath, pubkeyAlgorithms: alg });
    assert.equal(r.code, 0, r.stderr);
    assert.match(agent.log().slice(before), new RegExp(`signed \\d+ bytes with ssh-rsa .* as ${alg} `));
  });
}

test('a login fails when the agent has no key the server accepts', async () => {
  const empty = await startAgent();
  try {
    const r = await sshLogin(sshd, { agentSock: empty.sock, identityFile: keys.ed25519.pubPath });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
  } finally {
    await empty.stop();
  }
});

test('agent forwarding: ssh -A, ssh-add -l on the far side lists the keys, and a second hop logs in', async () => {
  const hop2 = sshArgs(sshd, { identityFile: keys.ed25519.pubPath, command: 'echo second-hop' }).map(shq).join(' ');
  const r = await sshLogin(sshd, {
    agentSock: agent.sock,
    identityFile: keys.ed25519.pubPath,
    forwardAgent: true,
    command: `ssh-add -l; ssh ${hop2}`,
  });
  assert.equal(r.code, 0, r.stderr);
  for (const k of Object.values(keys)) assert.match(r.stdout, new RegExp(`test-${k.name} \\(${k.listType}\\)`));
  assert.match(r.stdout, /^second-hop$/m);
  // The forwarded channel arrives bound to the first session (forwarding), and the second
  // hop's ssh binds its own session on top (session-bind@openssh.com).
  assert.match(agent.log(), /connection (\d+): session bound \(hop 1, forwarding\)\n.*connection \1: session bound \(hop 2\)/);
});

test('the Node ssh2 client authenticates through the agent socket', async () => {
  await new Promise<void>((resolve, reject) => {
    const c = new Client();
    const timer = setTimeout(() => reject(new Error('ssh2 login timed out')), 20_000);
    c.on('ready', () => {
      c.exec('echo via-ssh2', (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d));
        stream.on('close', () => {
          clearTimeout(timer);
          c.end();
          try {
            assert.equal(out.trim(), 'via-ssh2');
            resolve();
          } catch (e) {
            reject(e);
          }
        });
      });
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.connect({ host: '127.0.0.1', port: sshd.port, username: os.userInfo().username, agent: agent.sock, readyTimeout: 20_000 });
  });
});

test('ssh-add -h: a destination-restricted key logs in to its host only through bound sessions', async () => {
  const restricted = await startAgent();
  const hostsFile = path.join(restricted.dir, 'hostkeys');
  // ssh-add -h looks host keys up by name in this file.
  fs.writeFileSync(hostsFile, `127.0.0.1 ${sshd.hostKeyPub}\nelsewhere ${keys.ed25519.pub}\n`);
  const env = restricted.env;
  try {
    // To this host, and from it on to itself (so a forwarded agent there may use it).
    let r = await run('ssh-add', ['-H', hostsFile, '-h', '127.0.0.1', '-h', '127.0.0.1>127.0.0.1', keys.ecdsa256.path], { env });
    assert.equal(r.code, 0, r.stderr);
    r = await run('ssh-add', ['-H', hostsFile, '-h', 'elsewhere', keys.ed25519.path], { env });
    assert.equal(r.code, 0, r.stderr);

    // Listed locally (local use), but no signing on a connection without session-bind.
    const l = await run('ssh-add', ['-l'], { env });
    assert.match(l.stdout, /test-ecdsa256/);
    const msg = path.join(restricted.dir, 'msg');
    fs.writeFileSync(msg, 'x');
    r = await run('ssh-keygen', ['-Y', 'sign', '-f', keys.ecdsa256.pubPath, '-n', 'file', msg], { env });
    assert.notEqual(r.code, 0, 'a restricted key must not sign outside an ssh session');
    await restricted.waitForLog(/connection without session-bind/);

    r = await sshLogin(sshd, { agentSock: restricted.sock, identityFile: keys.ecdsa256.pubPath });
    assert.equal(r.code, 0, `permitted host: ${r.stderr}`);
    r = await sshLogin(sshd, { agentSock: restricted.sock, identityFile: keys.ed25519.pubPath });
    assert.notEqual(r.code, 0, 'a key restricted to another host must not log in here');

    // Forwarded: the far side sees only the key allowed beyond this host, and can use it.
    const hop2 = sshArgs(sshd, { identityFile: keys.ecdsa256.pubPath, command: 'echo second-hop' }).map(shq).join(' ');
    r = await sshLogin(sshd, {
      agentSock: restricted.sock,
      identityFile: keys.ecdsa256.pubPath,
      forwardAgent: true,
      command: `ssh-add -l; ssh ${hop2}`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /test-ecdsa256/);
    assert.doesNotMatch(r.stdout, /test-ed25519/);
    assert.match(r.stdout, /^second-hop$/m);
  } finally {
    await restricted.stop();
  }
});

test('ssh-add -h without a forwarding hop: the key is hidden from a forwarded agent', async () => {
  const restricted = await startAgent();
  const hostsFile = path.join(restricted.dir, 'hostkeys');
  fs.writeFileSync(hostsFile, `127.0.0.1 ${sshd.hostKeyPub}\n`);
  try {
    const r0 = await run('ssh-add', ['-H', hostsFile, '-h', '127.0.0.1', keys.ecdsa256.path], { env: restricted.env });
    assert.equal(r0.code, 0, r0.stderr);
    const r = await sshLogin(sshd, {
      agentSock: restricted.sock,
      identityFile: keys.ecdsa256.pubPath,
      forwardAgent: true,
      command: 'ssh-add -l; echo done',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /test-ecdsa256/);
    assert.match(r.stdout + r.stderr, /no identities/i);
  } finally {
    await restricted.stop();
  }
});
