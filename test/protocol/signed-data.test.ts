// classifySignedData: the three kinds of data a client asks the agent to sign, and data that
// only looks like one of them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { classifySignedData } from '../../src/protocol/signed-data';
import { SshWriter } from '../../src/protocol/wire';

const keyBlob = new SshWriter().string('ssh-ed25519').string(randomBytes(32)).toBuffer();
const hostKey = new SshWriter().string('ssh-ed25519').string(randomBytes(32)).toBuffer();
const sessionId = randomBytes(32);

function userauth(method: string, extra?: Buffer, user = 'alice'): Buffer {
  const w = new SshWriter().string(sessionId).uint8(50).string(user).string('ssh-connection').string(method).bool(true).string('ssh-ed25519').string(keyBlob);
  if (extra) w.string(extra);
  return w.toBuffer();
}

function sshsig(namespace: string, hash: string, hashBytes: number): Buffer {
  return Buffer.concat([Buffer.from('SSHSIG'), new SshWriter().string(namespace).string('').string(hash).string(randomBytes(hashBytes)).toBuffer()]);
}

test('a publickey user-auth request is an ssh-login with its session, user, service, method and key', () => {
  const d = classifySignedData(userauth('publickey'));
  assert.equal(d.kind, 'ssh-login');
  if (d.kind !== 'ssh-login') return;
  assert.deepEqual(d.sessionId, sessionId);
  assert.equal(d.user, 'alice');
  assert.equal(d.service, 'ssh-connection');
  assert.equal(d.method, 'publickey');
  assert.equal(d.keyAlgorithm, 'ssh-ed25519');
  assert.deepEqual(d.keyBlob, keyBlob);
  assert.equal(d.hostKeyBlob, undefined);
});

test('publickey-hostbound-v00@openssh.com carries the host key', () => {
  const d = classifySignedData(userauth('publickey-hostbound-v00@openssh.com', hostKey));
  assert.equal(d.kind, 'ssh-login');
  if (d.kind === 'ssh-login') assert.deepEqual(d.hostKeyBlob, hostKey);
});

test('an SSHSIG blob is sshsig with its namespace and hash', () => {
  assert.deepEqual(classifySignedData(sshsig('git', 'sha512', 64)), { kind: 'sshsig', namespace: 'git', hashAlgorithm: 'sha512' });
  assert.deepEqual(classifySignedData(sshsig('file', 'sha256', 32)), { kind: 'sshsig', namespace: 'file', hashAlgorithm: 'sha256' });
});

test('near misses are other: trailing bytes, another method, a hash of the wrong length, an empty namespace, truncation', () => {
  const cases: [string, Buffer][] = [
    ['trailing byte', Buffer.concat([userauth('publickey'), Buffer.from([0])])],
    ['password method', userauth('password')],
    ['hostbound without host key', userauth('publickey-hostbound-v00@openssh.com')],
    ['truncated login', userauth('publickey').subarray(0, 60)],
    ['sha512 with 32 bytes', sshsig('git', 'sha512', 32)],
    ['unknown hash', sshsig('git', 'md5', 16)],
    ['empty namespace', sshsig('', 'sha512', 64)],
    ['magic alone', Buffer.from('SSHSIG')],
    ['empty', Buffer.alloc(0)],
    ['random', randomBytes(100)],
  ];
  for (const [name, data] of cases) assert.deepEqual(classifySignedData(data), { kind: 'other', length: data.length }, name);
});

test('an overlong user name is cut in the description', () => {
  const d = classifySignedData(userauth('publickey', undefined, 'u'.repeat(1000)));
  assert.equal(d.kind, 'ssh-login');
  if (d.kind === 'ssh-login') assert.equal(d.user.length, 257);
});
