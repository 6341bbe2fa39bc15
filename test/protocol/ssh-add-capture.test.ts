// What the real ssh-add sends, captured by a recording socket and decoded with our codec;
// and what the real ssh-add / ssh-keygen make of replies our encoders produce.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { decodeRequest, encodeIdentitiesAnswer, encodeSuccess, type AgentRequest, type RequestOf } from '../../src/protocol/agent-messages';
import { authorizedKeysLine, parseAuthorizedKeysLine } from '../../src/protocol/authorized-keys';
import { fingerprintSha256 } from '../../src/protocol/fingerprint';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { askpassScript, sh, sshKeygen, startRecorder, tempDir } from './helpers';
import { miniAgent } from './mini-agent';
import { certBlob } from '../helpers/ssh-ca';

const KEYS = [
  { name: 'rsa', type: 'rsa', bits: 2048 },
  { name: 'p256', type: 'ecdsa', bits: 256 },
  { name: 'p384', type: 'ecdsa', bits: 384 },
  { name: 'p521', type: 'ecdsa', bits: 521 },
  { name: 'ed25519', type: 'ed25519' },
];

function only<T extends AgentRequest['type']>(frames: Buffer[], type: T): RequestOf<T> {
  assert.equal(frames.length, 1, `expected one message, got ${frames.length}`);
  const req = decodeRequest(frames[0]);
  assert.equal(req.type, type);
  return req as RequestOf<T>;
}

test('ssh-add KEY: ADD_IDENTITY decodes to a JWK node:crypto signs with; ssh-keygen -Y verifies the result', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const agent = miniAgent();
  const rec = await startRecorder(dir, agent.reply);
  t.after(rec.close);
  const env = { SSH_AUTH_SOCK: rec.socket };
  for (const k of KEYS) {
    await t.test(k.name, async () => {
      const path = await sshKeygen(dir, k.name, k.type, k.bits, `${k.name}@capture`);
      const pubLine = readFileSync(`${path}.pub`, 'utf8').trim();
      rec.frames.length = 0;
      await sh('ssh-add', [path], env);
      const req = only(rec.frames, 'SSH_AGENTC_ADD_IDENTITY');
      assert.deepEqual(req.constraints, []);
      assert.equal(req.key.comment, `${k.name}@capture`);
      assert.equal(authorizedKeysLine(req.key.publicKey, req.key.comment), pubLine);

      // The JWK is a working private key whose public half is the one in the .pub file.
      const priv = createPrivateKey({ key: req.key.jwk, format: 'jwk' });
      assert.deepEqual(publicKeyFromJwk(createPublicKey(priv).export({ format: 'jwk' })), req.key.publicKey);

      // ssh-keygen -Y sign asks our mini agent (SIGN_REQUEST -> encodeSshSignature) ...
      const data = join(dir, `${k.name}.txt`);
      writeFileSync(data, `signed by ${k.name}\n`);
      await sh('ssh-keygen', ['-Y', 'sign', '-n', 'file', '-f', `${path}.pub`, data], env);
      // ... and OpenSSH itself accepts the signature.
      const allowed = join(dir, `${k.name}.allowed`);
      writeFileSync(allowed, `tester ${pubLine}\n`);
      const verified = await sh('sh', ['-c', `ssh-keygen -Y verify -f "${allowed}" -I tester -n file -s "${data}.sig" < "${data}"`]);
      assert.match(verified.stdout, /Good "file" signature for tester/);
    });
  }

  // Our IDENTITIES_ANSWER as ssh-add -l / -L print it.
  const listed = (await sh('ssh-add', ['-l'], env)).stdout.trim().split('\n');
  assert.equal(listed.length, KEYS.length);
  const long = (await sh('ssh-add', ['-L'], env)).stdout.trim().split('\n');
  for (const [i, line] of long.entries()) {
    const { blob, comment } = parseAuthorizedKeysLine(line);
    assert.ok(agent.keys.has(blob.toString('hex')));
    assert.ok(listed[i].includes(fingerprintSha256(blob)) && listed[i].includes(comment), listed[i]);
  }
});

test('ssh-add -c -t 60 and -h: constraints decode, restrict-destination in full', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const rec = await startRecorder(dir);
  t.after(rec.close);
  const key = await sshKeygen(dir, 'user', 'ed25519');
  const hostA = parseAuthorizedKeysLine(readFileSync(`${await sshKeygen(dir, 'hosta', 'ecdsa', 256)}.pub`, 'utf8'));
  const hostB = parseAuthorizedKeysLine(readFileSync(`${await sshKeygen(dir, 'hostb', 'ed25519')}.pub`, 'utf8'));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `a.example ${authorizedKeysLine(hostA.publicKey)}\nb.example ${authorizedKeysLine(hostB.publicKey)}\n`);
  const env = { SSH_AUTH_SOCK: rec.socket };

  await sh('ssh-add', ['-c', '-t', '60', key], env);
  const c = only(rec.frames, 'SSH_AGENTC_ADD_ID_CONSTRAINED');
  assert.deepEqual(c.constraints, [{ kind: 'lifetime', seconds: 60 }, { kind: 'confirm' }]);

  rec.frames.length = 0;
  await sh('ssh-add', ['-H', knownHosts, '-h', 'a.example', '-h', 'a.example>bob@b.example', key], env);
  const h = only(rec.frames, 'SSH_AGENTC_ADD_ID_CONSTRAINED');
  assert.equal(h.constraints.length, 1);
  const rd = h.constraints[0];
  assert.ok(rd.kind === 'restrict-destination');
  const keyA = [{ keyBlob: hostA.blob, isCa: false }];
  const keyB = [{ keyBlob: hostB.blob, isCa: false }];
  assert.deepEqual(rd.constraints, [
    { from: { user: '', hostname: '', keys: [] }, to: { user: '', hostname: 'a.example', keys: keyA } },
    { from: { user: '', hostname: 'a.example', keys: keyA }, to: { user: 'bob', hostname: 'b.example', keys: keyB } },
  ]);
});

test('ssh-add -s/-e/-x/-X/-d/-D/-l send what we decode', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const rec = await startRecorder(dir, (body) => (body[0] === 11 ? encodeIdentitiesAnswer([]) : encodeSuccess()));
  t.after(rec.close);
  const key = await sshKeygen(dir, 'k', 'ecdsa', 256);
  const env = { SSH_AUTH_SOCK: rec.socket, ...askpassScript(dir, '12 34\u00e9') };
  const module = '/usr/lib/softhsm/libsofthsm2.so';
  const run = async (args: string[]): Promise<Buffer[]> => {
    rec.frames.length = 0;
    await sh('ssh-add', args, env);
    return [...rec.frames];
  };

  const add = only(await run(['-s', module]), 'SSH_AGENTC_ADD_SMARTCARD_KEY');
  assert.equal(add.readerId, module);
  assert.deepEqual(add.pin, Buffer.from('12 34\u00e9', 'utf8'));

  const addC = only(await run(['-s', module, '-t', '1d', '-c']), 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED');
  assert.deepEqual(addC.constraints, [{ kind: 'lifetime', seconds: 86400 }, { kind: 'confirm' }]);

  const rm = only(await run(['-e', module]), 'SSH_AGENTC_REMOVE_SMARTCARD_KEY');
  assert.equal(rm.readerId, module);

  const lock = only(await run(['-x']), 'SSH_AGENTC_LOCK');
  assert.deepEqual(lock.passphrase, Buffer.from('12 34\u00e9'));
  const unlock = only(await run(['-X']), 'SSH_AGENTC_UNLOCK');
  assert.deepEqual(unlock.passphrase, Buffer.from('12 34\u00e9'));

  const del = only(await run(['-d', key]), 'SSH_AGENTC_REMOVE_IDENTITY');
  assert.deepEqual(del.keyBlob, parseAuthorizedKeysLine(readFileSync(`${key}.pub`, 'utf8')).blob);

  // ssh-add -D also sends the legacy SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES (9), ignoring its answer.
  const all = (await run(['-D'])).map(decodeRequest);
  assert.deepEqual(all, [{ type: 'SSH_AGENTC_REMOVE_ALL_IDENTITIES' }, { type: 'unknown', code: 9 }]);

  const list = await run(['-l']).catch((e) => e);
  assert.deepEqual(rec.frames.map(decodeRequest), [{ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }]);
  assert.match(String(list.stdout), /The agent has no identities/);
});

test('ssh-add of a key with a certificate: the second ADD_IDENTITY carries the certificate and the same key, for every type', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const rec = await startRecorder(dir);
  t.after(rec.close);
  const ca = await sshKeygen(dir, 'ca', 'ed25519');
  for (const k of KEYS) {
    await t.test(k.name, async () => {
      rec.frames.length = 0;
      const key = await sshKeygen(dir, `cert-${k.name}`, k.type, k.bits);
      await sh('ssh-keygen', ['-q', '-s', ca, '-I', `id-${k.name}`, '-n', 'tester', `${key}.pub`]);
      await sh('ssh-add', [key], { SSH_AUTH_SOCK: rec.socket });
      const reqs = rec.frames.map(decodeRequest) as RequestOf<'SSH_AGENTC_ADD_IDENTITY'>[];
      assert.deepEqual(reqs.map((r) => r.type), ['SSH_AGENTC_ADD_IDENTITY', 'SSH_AGENTC_ADD_IDENTITY']);
      const [plain, withCert] = reqs;
      assert.equal(plain.key.certificate, undefined);
      const cert = withCert.key.certificate!;
      assert.ok(cert, 'the second request is the certificate key');
      assert.deepEqual(cert.blob, certBlob(`${key}-cert.pub`));
      assert.equal(cert.keyId, `id-${k.name}`);
      assert.deepEqual(cert.principals, ['tester']);
      // The private part decoded after the certificate is the same key as the plain one.
      assert.deepEqual(withCert.key.jwk, plain.key.jwk);
      assert.deepEqual(cert.publicKey, plain.key.publicKey);
    });
  }
});
