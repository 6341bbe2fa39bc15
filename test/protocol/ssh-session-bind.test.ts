// What the real ssh client sends an agent during a login and during agent forwarding
// (session-bind@openssh.com, RFC 9987 / PROTOCOL.agent section 1), decoded with our codec and
// checked against the host key of a real sshd on loopback.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import test from 'node:test';
import { decodeRequest, encodeRequest } from '../../src/protocol/agent-messages';
import { authorizedKeysLine, parseAuthorizedKeysLine } from '../../src/protocol/authorized-keys';
import { decodePublicKeyBlob, encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { SshReader } from '../../src/protocol/wire';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { verifySshSignature } from '../../src/protocol/verify';
import { startSshd, sshLogin } from '../helpers/sshd';
import { startRecorder, tempDir } from './helpers';
import { miniAgent } from './mini-agent';

test('ssh -A through a codec-built agent: session-bind decodes and its host signature verifies', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);

  // The user key lives only in our mini agent, added through our own ADD_IDENTITY encoder.
  const agent = miniAgent();
  const userJwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });
  agent.reply(encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: userJwk, comment: 'user' }, constraints: [] }));
  const userPk = publicKeyFromJwk(userJwk);
  const rec = await startRecorder(dir, agent.reply);
  t.after(rec.close);

  // A real sshd on loopback, started once it logs that it listens.
  const sshd = await startSshd({ authorizedKeys: [authorizedKeysLine(userPk, 'user')] });
  t.after(sshd.stop);
  const hostPub = parseAuthorizedKeysLine(sshd.hostKeyPub);
  // No key files: only the agent's key is offered.
  const login = await sshLogin(sshd, { agentSock: rec.socket, extraOptions: ['-o', 'IdentityFile=/dev/null'], forwardAgent: true, command: 'ssh-add -L' });
  assert.equal(login.code, 0, `${login.stderr}\n${sshd.log()}`);
  // The far side listed our key through the forwarded agent.
  assert.equal(login.stdout.trim(), authorizedKeysLine(userPk, 'user'));

  const reqs = rec.frames.map(decodeRequest);
  const binds = reqs.flatMap((r) => (r.type === 'SSH_AGENTC_EXTENSION' && r.extension.kind === 'session-bind' ? [r.extension] : []));
  assert.deepEqual(binds.map((b) => b.isForwarding), [false, true], JSON.stringify(reqs.map((r) => r.type)));
  for (const b of binds) {
    assert.deepEqual(b.hostKey, encodePublicKeyBlob(hostPub.publicKey));
    assert.ok(verifySshSignature(decodePublicKeyBlob(b.hostKey), b.signature, b.sessionId), 'host signature over the session id');
  }
  assert.deepEqual(binds[0].sessionId, binds[1].sessionId);

  // The user-auth signature request is bound to that same session (RFC 4252 section 7).
  const signReq = reqs.find((r) => r.type === 'SSH_AGENTC_SIGN_REQUEST');
  assert.ok(signReq && signReq.type === 'SSH_AGENTC_SIGN_REQUEST');
  assert.deepEqual(new SshReader(signReq.data).string(), binds[0].sessionId);
});
