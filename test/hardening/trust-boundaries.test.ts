// The trust table of docs/threat-model.md, row by row, tried from outside as an attacker
// would: a forwarded connection with a real session-bind (signed by a host key this test
// makes), a bind that failed, a local process trying to strip a key's constraints without
// the PIN, 300 parallel unlock guessers, and OpenSSH's own agent as the judge of lifetime and
// key-size rules.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type JsonWebKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { encodeRequest } from '../../src/protocol/agent-requests';
import type { KeyConstraint } from '../../src/protocol/constraints';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { encodeForgetPinRequest, encodeUnlockRequest } from '../../src/protocol/pin-extension-messages';
import { SshWriter } from '../../src/protocol/wire';
import { connects, startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { killAndWait, run } from '../helpers/sshd';
import { addSmartcardKey, RawClient, SSH_AGENT_FAILURE, SSH_AGENT_SUCCESS, SSH_AGENTC_EXTENSION, SSH_AGENTC_LOCK, SSH_AGENTC_UNLOCK } from './helpers';

const SSH_AGENT_EXTENSION_FAILURE = 28;
const ttAgent = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [TT_AGENT_BIN, ...args], { env, timeoutMs: 60_000 });

interface HostKey {
  blob: Buffer;
  /** A real session-bind@openssh.com for `sessionId`, signed by this host key. */
  bind(sessionId: Buffer, isForwarding: boolean, opts?: { badSignature?: boolean }): Buffer;
}

function makeHostKey(): HostKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const blob = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url') });
  return {
    blob,
    bind(sessionId, isForwarding, opts = {}) {
      const sig = sign(null, opts.badSignature ? randomBytes(32) : sessionId, privateKey);
      const signature = new SshWriter().string('ssh-ed25519').string(sig).toBuffer();
      return new SshWriter().uint8(SSH_AGENTC_EXTENSION).string('session-bind@openssh.com').string(blob).string(sessionId).string(signature).bool(isForwarding).toBuffer();
    },
  };
}

function extension(name: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(name).toBuffer(), body]);
}

function addFileKey(jwk: JsonWebKey, comment: string, constraints: KeyConstraint[] = []): Buffer {
  return encodeRequest({ type: constraints.length ? 'SSH_AGENTC_ADD_ID_CONSTRAINED' : 'SSH_AGENTC_ADD_IDENTITY', key: { jwk, comment }, constraints } as never);
}

async function tokenAgent(t: test.TestContext, args: string[] = []): Promise<{ tok: TestToken; agent: RunningAgent; askpassEnv: NodeJS.ProcessEnv }> {
  const tok = makeToken({ tokens: [{ label: 'trust', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'trust-p256' }] }], setEnv: false });
  const agent = await startAgent({ env: tok.env, args });
  t.after(async () => {
    await agent.stop();
    tok.cleanup();
  });
  const askpass = path.join(tok.dir, 'askpass');
  fs.writeFileSync(askpass, `#!/bin/sh\necho ${tok.pin}\n`, { mode: 0o755 });
  const askpassEnv = { ...agent.env, SOFTHSM2_CONF: tok.conf, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  return { tok, agent, askpassEnv };
}

async function statusKeys(env: NodeJS.ProcessEnv): Promise<{ confirm: boolean; expiresAt: string | null }[]> {
  const r = await ttAgent(['status', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).keys;
}

test('a second add of a loaded module cannot strip -c, with or without a PIN', async (t) => {
  const { tok, agent, askpassEnv } = await tokenAgent(t);
  const added = await ttAgent(['add', '-c', tok.module], askpassEnv);
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual((await statusKeys(askpassEnv)).map((k) => k.confirm), [true]);

  const c = await RawClient.connect(agent.sock);
  t.after(() => c.end());
  assert.equal((await c.request(addSmartcardKey(tok.module, '')))[0], SSH_AGENT_FAILURE, 'empty-PIN re-add refused');
  assert.equal((await c.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_FAILURE, 're-add with the PIN refused too');
  await agent.waitForLog('is already loaded and its keys keep their constraints');
  assert.deepEqual((await statusKeys(askpassEnv)).map((k) => k.confirm), [true], 'the confirm constraint is still there');
});

test('a failed session-bind makes the connection remote: no module load, no status, no PIN extensions', async (t) => {
  const { tok, agent } = await tokenAgent(t);
  const host = makeHostKey();
  const c = await RawClient.connect(agent.sock);
  t.after(() => c.end());
  // A known extension that fails answers SSH_AGENT_EXTENSION_FAILURE (OpenSSH 10).
  assert.equal((await c.request(host.bind(randomBytes(32), false, { badSignature: true })))[0], SSH_AGENT_EXTENSION_FAILURE);
  assert.equal((await c.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_FAILURE);
  await agent.waitForLog(`refusing to load module "${tok.module}" from a connection bound to an ssh session`);
  assert.equal((await c.request(extension('status@tt-agent')))[0], SSH_AGENT_FAILURE);

  // A session-bind too malformed to decode counts as an attempt as well.
  const c2 = await RawClient.connect(agent.sock);
  t.after(() => c2.end());
  assert.equal((await c2.request(extension('session-bind@openssh.com', Buffer.from([0, 0, 0, 9, 1]))))[0], SSH_AGENT_EXTENSION_FAILURE);
  assert.equal((await c2.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_FAILURE);
  // The same request on a fresh local connection loads: the bind attempt is what refused.
  const local = await RawClient.connect(agent.sock);
  t.after(() => local.end());
  assert.equal((await local.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_SUCCESS);
});

test('a forwarded connection may list and sign, and nothing else', async (t) => {
  const { tok, agent } = await tokenAgent(t);
  const local = await RawClient.connect(agent.sock);
  t.after(() => local.end());
  assert.equal((await local.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_SUCCESS);
  const fwd = await RawClient.connect(agent.sock);
  t.after(() => fwd.end());
  assert.equal((await fwd.request(makeHostKey().bind(randomBytes(32), true)))[0], SSH_AGENT_SUCCESS);

  const keys = await fwd.identities();
  assert.equal(keys.length, 1);
  assert.ok(await fwd.sign(keys[0].blob, randomBytes(64)), 'signing is allowed');
  const forbidden: [string, Buffer][] = [
    ['unlock-token (wrong PIN injection)', encodeUnlockRequest({ selector: 'trust', pin: Buffer.from('000000'), remember: false })],
    ['forget-pin', encodeForgetPinRequest({ selector: '', keyring: true })],
    ['status', extension('status@tt-agent')],
    ['lock', new SshWriter().uint8(SSH_AGENTC_LOCK).string('x').toBuffer()],
    ['remove all', Buffer.of(19)],
    ['add a file key', addFileKey(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), 'remote')],
  ];
  for (const [what, body] of forbidden) assert.equal((await fwd.request(body))[0], SSH_AGENT_FAILURE, what);
  await agent.waitForLog('extension "unlock-token@tt-agent" is not allowed on a forwarded connection');
  await agent.waitForLog('extension "status@tt-agent" is not allowed on a forwarded connection');
  assert.doesNotMatch(agent.log(), /C_Login|PIN incorrect/, 'the injected PIN never reached the token');
  assert.equal((await local.identities()).length, 1, 'nothing was removed or locked');
});

test('a destination-restricted key does not sign on a forwarding hop (OpenSSH: "tried to sign on forwarding hop")', async (t) => {
  const agent = await startAgent();
  t.after(() => agent.stop());
  const host = makeHostKey();
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const keyBlob = encodePublicKeyBlob(publicKeyFromJwk(jwk));
  const hop = (hostKeys: Buffer[]) => ({ user: '', hostname: hostKeys.length ? 'target' : '', keys: hostKeys.map((keyBlob) => ({ keyBlob, isCa: false })) });
  const restrict: KeyConstraint = { kind: 'restrict-destination', constraints: [{ from: hop([]), to: hop([host.blob]) }] };
  const local = await RawClient.connect(agent.sock);
  t.after(() => local.end());
  assert.equal((await local.request(addFileKey(jwk, 'restricted', [restrict])))[0], SSH_AGENT_SUCCESS);

  const userauth = (sid: Buffer) =>
    new SshWriter().string(sid).uint8(50).string('alice').string('ssh-connection').string('publickey-hostbound-v00@openssh.com').bool(true).string('ssh-ed25519').string(keyBlob).string(host.blob).toBuffer();
  // The same login data signs on a connection whose last bind is the login itself...
  const sid = randomBytes(32);
  const login = await RawClient.connect(agent.sock);
  t.after(() => login.end());
  assert.equal((await login.request(host.bind(sid, false)))[0], SSH_AGENT_SUCCESS);
  assert.ok(await login.sign(keyBlob, userauth(sid)), 'a login to the permitted host signs');
  // ...but not when that bind says the connection is being forwarded onwards.
  const sid2 = randomBytes(32);
  const fwd = await RawClient.connect(agent.sock);
  t.after(() => fwd.end());
  assert.equal((await fwd.request(host.bind(sid2, true)))[0], SSH_AGENT_SUCCESS);
  assert.equal(await fwd.sign(keyBlob, userauth(sid2)), null);
  await agent.waitForLog('tried to sign on forwarding hop');
});

test('wrong unlocks are slowed agent-wide: 300 parallel guessers get one answer at a time', async (t) => {
  const agent = await startAgent();
  t.after(() => agent.stop());
  const owner = await RawClient.connect(agent.sock);
  t.after(() => owner.end());
  assert.equal((await owner.request(new SshWriter().uint8(SSH_AGENTC_LOCK).string('').toBuffer()))[0], SSH_AGENT_FAILURE, 'an empty passphrase does not lock');
  assert.equal((await owner.request(new SshWriter().uint8(SSH_AGENTC_LOCK).string('right').toBuffer()))[0], SSH_AGENT_SUCCESS);

  const guessers = await Promise.all(Array.from({ length: 300 }, () => RawClient.connect(agent.sock)));
  t.after(() => guessers.forEach((g) => g.end()));
  const start = Date.now();
  const answered: number[] = [];
  for (const [i, g] of guessers.entries()) {
    // No reply timer per guesser: most answers come long after this test has ended.
    g.socket.once('data', () => answered.push(Date.now() - start));
    g.send(new SshWriter().uint8(SSH_AGENTC_UNLOCK).string(`guess-${i}`).toBuffer());
  }
  // The k-th wrong guess costs 0.1 s × k after it, for everyone: the 8th answer cannot come
  // before 0.1 × (1 + … + 7) = 2.8 s. With a per-connection delay all 300 come within ~1 s.
  const until = Date.now() + 60_000;
  while (answered.length < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.ok(answered.length >= 8, 'eight guesses were answered');
  assert.ok(answered[7] >= 2800, `the 8th guess was answered after ${answered[7]} ms`);
  assert.ok(answered.length < 20, `${answered.length} guesses answered within ${Date.now() - start} ms`);
});

test('an explicit lifetime of 0 expires the key at once even under -t, as in OpenSSH ssh-agent', async (t) => {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const dir = fs.mkdtempSync('/tmp/tt-lifetime-');
  const opensshSock = path.join(dir, 'openssh.sock');
  const openssh = spawn('ssh-agent', ['-D', '-t', '60', '-a', opensshSock], { stdio: 'ignore' });
  t.after(async () => {
    await killAndWait(openssh);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const tt = await startAgent({ args: ['-t', '60'] });
  t.after(() => tt.stop());
  for (let i = 0; !(await connects(opensshSock)); i++) {
    assert.ok(i < 500, 'ssh-agent listens');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const sock of [opensshSock, tt.sock]) {
    const c = await RawClient.connect(sock);
    t.after(() => c.end());
    assert.equal((await c.request(addFileKey(jwk, 'zero', [{ kind: 'lifetime', seconds: 0 }])))[0], SSH_AGENT_SUCCESS);
    const until = Date.now() + 10_000;
    let n = 1;
    while ((n = (await c.identities()).length) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(n, 0, `${sock === tt.sock ? 'tt-agent' : 'ssh-agent'} dropped the key with lifetime 0`);
  }
});

test('RSA keys under 1024 bits are refused, as ssh-agent refuses them', async (t) => {
  const dir = fs.mkdtempSync('/tmp/tt-rsa-');
  const opensshSock = path.join(dir, 'openssh.sock');
  const openssh = spawn('ssh-agent', ['-D', '-a', opensshSock], { stdio: 'ignore' });
  t.after(async () => {
    await killAndWait(openssh);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const tt = await startAgent();
  t.after(() => tt.stop());
  for (let i = 0; !(await connects(opensshSock)); i++) {
    assert.ok(i < 500, 'ssh-agent listens');
    await new Promise((r) => setTimeout(r, 20));
  }
  const small = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ format: 'jwk' });
  const ok = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
  for (const sock of [opensshSock, tt.sock]) {
    const c = await RawClient.connect(sock);
    t.after(() => c.end());
    const who = sock === tt.sock ? 'tt-agent' : 'ssh-agent';
    assert.equal((await c.request(addFileKey(small, 'rsa512')))[0], SSH_AGENT_FAILURE, `${who} refuses RSA-512`);
    assert.equal((await c.request(addFileKey(ok, 'rsa1024')))[0], SSH_AGENT_SUCCESS, `${who} takes RSA-1024`);
  }
  await tt.waitForLog('RSA key of 512 bits is below the 1024-bit minimum');
});

test('SIGUSR1 drops every key and module and the agent keeps running', async (t) => {
  const { tok, agent } = await tokenAgent(t);
  const c = await RawClient.connect(agent.sock);
  t.after(() => c.end());
  assert.equal((await c.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_SUCCESS);
  assert.equal((await c.request(addFileKey(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), 'file')))[0], SSH_AGENT_SUCCESS);
  assert.equal((await c.identities()).length, 2);
  process.kill(agent.pid, 'SIGUSR1');
  await agent.waitForLog('SIGUSR1: dropped 2 key(s)');
  assert.equal((await c.identities()).length, 0);
  await agent.waitForLog(`module ${fs.realpathSync(tok.module)} closed`);
  // Still serving: the module loads again.
  assert.equal((await c.request(addSmartcardKey(tok.module, tok.pin)))[0], SSH_AGENT_SUCCESS);
});
