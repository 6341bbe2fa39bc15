// What the real ssh client sends an agent during a login and during agent forwarding
// (session-bind@openssh.com, RFC 9987 / PROTOCOL.agent section 1), decoded with our codec and
// checked against the host key of a real sshd on loopback.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import test from 'node:test';
import { spawn } from 'node:child_process';
import { decodeRequest, encodeRequest } from '../../src/protocol/agent-messages';
import { authorizedKeysLine, parseAuthorizedKeysLine } from '../../src/protocol/authorized-keys';
import { decodePublicKeyBlob, encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { SshReader } from '../../src/protocol/wire';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { verifySshSignature } from '../../src/protocol/verify';
import { sh, sshKeygen, startRecorder, tempDir } from './helpers';
import { miniAgent } from './mini-agent';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test('ssh -A through a codec-built agent: session-bind decodes and its host signature verifies', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const hostKeyPath = await sshKeygen(dir, 'host_ed25519', 'ed25519');
  const hostPub = parseAuthorizedKeysLine(readFileSync(`${hostKeyPath}.pub`, 'utf8'));

  // The user key lives only in our mini agent, added through our own ADD_IDENTITY encoder.
  const agent = miniAgent();
  const userJwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });
  agent.reply(encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: userJwk, comment: 'user' }, constraints: [] }));
  const userPk = publicKeyFromJwk(userJwk);
  writeFileSync(join(dir, 'authorized_keys'), `${authorizedKeysLine(userPk, 'user')}\n`);
  const rec = await startRecorder(dir, agent.reply);
  t.after(rec.close);

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyPath}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin yes',
      'AllowAgentForwarding yes',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let sshdLog = '';
  sshd.stderr!.on('data', (c: Buffer) => (sshdLog += c.toString()));
  t.after(() => {
    sshd.kill('SIGTERM');
  });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${authorizedKeysLine(hostPub.publicKey)}\n`);

  const user = (await sh('id', ['-un'])).stdout.trim();
  let out = '';
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const args = ['-F', '/dev/null', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
        '-o', 'BatchMode=yes', '-o', 'IdentityFile=/dev/null', '-p', String(port), '-A', `${user}@127.0.0.1`, 'ssh-add -L'];
      out = (await sh('ssh', args, { SSH_AUTH_SOCK: rec.socket })).stdout;
      break;
    } catch (e) {
      if (!/Connection refused/.test(String((e as { stderr?: string }).stderr))) throw new Error(`${String(e)}\n${sshdLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // The far side listed our key through the forwarded agent.
  assert.equal(out.trim(), authorizedKeysLine(userPk, 'user'));

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
