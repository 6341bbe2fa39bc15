// The agent protocol as OpenSSH 10.x and RFC 9987 speak it, over the compiled agent's real
// socket with messages encoded by hand: extension failures, the single `query` reply, the
// 256-byte cap on destination user patterns, key types from newer OpenSSH refused cleanly,
// and certificates the agent must not accept (forged CA signature, another key's certificate).
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, type JsonWebKey } from 'node:crypto';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeRequest, type DestinationConstraint } from '../../src/protocol/agent-messages';
import { FrameDecoder, frame } from '../../src/protocol/framing';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { SshWriter } from '../../src/protocol/wire';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { certBlob, makeCa } from '../helpers/ssh-ca';
import { agentCall, agentCalls } from '../protocol/helpers';

const SSH_AGENT_FAILURE = 5;
const SSH_AGENT_SUCCESS = 6;
const SSH_AGENT_IDENTITIES_ANSWER = 12;
const SSH_AGENT_EXTENSION_FAILURE = 28;
const SSH_AGENT_EXTENSION_RESPONSE = 29;

let agent: RunningAgent;
before(async () => {
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
});

const extension = (name: string, body: Buffer = Buffer.alloc(0)) =>
  Buffer.concat([new SshWriter().uint8(27).string(name).toBuffer(), body]);

function ed25519Jwk(): JsonWebKey {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
}

test('a known extension that fails answers SSH_AGENT_EXTENSION_FAILURE; an unknown one SSH_AGENT_FAILURE', async () => {
  const truncatedBind = extension('session-bind@openssh.com', new SshWriter().string(Buffer.alloc(10)).toBuffer());
  const key = generateKeyPairSync('ed25519');
  const hostKey = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(key.publicKey.export({ format: 'jwk' }).x!, 'base64url') });
  const forgedBind = extension(
    'session-bind@openssh.com',
    new SshWriter().string(hostKey).string(randomBytes(32)).string(new SshWriter().string('ssh-ed25519').string(Buffer.alloc(64)).toBuffer()).bool(false).toBuffer(),
  );
  const badStatus = extension('status@tt-agent', Buffer.of(0, 0, 0, 9));
  for (const [what, body] of [['truncated session-bind', truncatedBind], ['forged session-bind', forgedBind], ['malformed status@tt-agent', badStatus]] as const) {
    const reply = await agentCall(agent.sock, body);
    assert.deepEqual(reply, Buffer.of(SSH_AGENT_EXTENSION_FAILURE), what);
  }
  assert.deepEqual(await agentCall(agent.sock, extension('no-such-extension@example.org', Buffer.from('x'))), Buffer.of(SSH_AGENT_FAILURE));
  await agent.waitForLog(/SSH_AGENTC_EXTENSION refused: malformed session-bind@openssh.com/);
});

test('the query reply is exactly one message: the next request on the connection gets its own answer', async () => {
  const [query, identities, again] = await agentCalls(agent.sock, [extension('query'), Buffer.of(11), extension('query')]);
  assert.equal(query[0], SSH_AGENT_EXTENSION_RESPONSE);
  assert.ok(query.includes(Buffer.from('session-bind@openssh.com')));
  assert.equal(identities[0], SSH_AGENT_IDENTITIES_ANSWER, 'no trailing SSH_AGENT_SUCCESS after the query reply');
  assert.deepEqual(again, query);
});

test('destination constraints: a user pattern of 256 bytes is accepted, 257 bytes refuses the key', async () => {
  const hostKey = encodePublicKeyBlob({ kind: 'ed25519', key: randomBytes(32) });
  const constraint = (user: string): DestinationConstraint => ({
    from: { user: '', hostname: '', keys: [] },
    to: { user, hostname: 'host.example', keys: [{ keyBlob: hostKey, isCa: false }] },
  });
  const add = (user: string) =>
    agentCall(agent.sock, encodeRequest({
      type: 'SSH_AGENTC_ADD_ID_CONSTRAINED',
      key: { jwk: ed25519Jwk(), comment: `user-${user.length}` },
      constraints: [{ kind: 'restrict-destination', constraints: [constraint(user)] }],
    }));
  assert.deepEqual(await add('u'.repeat(256)), Buffer.of(SSH_AGENT_SUCCESS));
  assert.deepEqual(await add('u'.repeat(257)), Buffer.of(SSH_AGENT_FAILURE));
  // Counted in bytes, not characters: 129 two-byte characters are 258 bytes.
  assert.deepEqual(await add('\u00e9'.repeat(129)), Buffer.of(SSH_AGENT_FAILURE));
  await agent.waitForLog(/destination user pattern of 257 bytes \(at most 256\)/);
});

test('a key type from a newer OpenSSH (ssh-mldsa44-ed25519@openssh.com) is refused as unsupported, not as malformed', async () => {
  const before = agent.log().length;
  // Whatever its private key layout, the type name alone decides: the body is never guessed at.
  const body = new SshWriter().uint8(17).string('ssh-mldsa44-ed25519@openssh.com').string(randomBytes(1344)).string(randomBytes(64)).string('pq').toBuffer();
  assert.deepEqual(await agentCall(agent.sock, body), Buffer.of(SSH_AGENT_FAILURE));
  const constrained = Buffer.concat([Buffer.of(25), body.subarray(1), Buffer.of(1, 0, 0, 0, 60)]);
  assert.deepEqual(await agentCall(agent.sock, constrained), Buffer.of(SSH_AGENT_FAILURE));
  const dssCert = new SshWriter().uint8(17).string('ssh-dss-cert-v01@openssh.com').string(randomBytes(100)).toBuffer();
  assert.deepEqual(await agentCall(agent.sock, dssCert), Buffer.of(SSH_AGENT_FAILURE));
  await agent.waitForLog(/SSH_AGENTC_ADD_ID_CONSTRAINED refused: unsupported key type "ssh-mldsa44-ed25519@openssh.com"/);
  await agent.waitForLog(/refused: unsupported certificate key type "ssh-dss-cert-v01@openssh.com"/);
  const log = agent.log().slice(before);
  assert.match(log, /info: SSH_AGENTC_ADD_IDENTITY refused: unsupported key type "ssh-mldsa44-ed25519@openssh.com"/);
  assert.doesNotMatch(log, /malformed/);
});

test('certificates: a forged CA signature and a certificate of another key are refused; a good one is listed', async () => {
  const dir = fs.mkdtempSync(path.join(agent.dir, 'ca-'));
  const ca = makeCa(dir);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const pubPath = path.join(dir, 'user.pub');
  const pubBlob = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url') });
  fs.writeFileSync(pubPath, `ssh-ed25519 ${pubBlob.toString('base64')} user\n`);
  const cert = certBlob(ca.sign(pubPath, { keyId: 'good', principals: ['alice'] }));
  const addCert = (certificate: Buffer, key = jwk) => agentCall(agent.sock, encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: key, comment: 'c', certificate }, constraints: [] }));

  const forged = Buffer.from(cert);
  forged[forged.length - 5] ^= 1; // inside the CA's Ed25519 signature
  assert.deepEqual(await addCert(forged), Buffer.of(SSH_AGENT_FAILURE));
  await agent.waitForLog(/certificate rejected: certificate "good" has an invalid CA signature/);
  assert.deepEqual(await addCert(cert, ed25519Jwk()), Buffer.of(SSH_AGENT_FAILURE), 'private key of another key');
  assert.deepEqual(await addCert(cert), Buffer.of(SSH_AGENT_SUCCESS));

  const list = await agentCall(agent.sock, Buffer.of(11));
  assert.ok(list.includes(cert), 'the certificate blob is listed');
  assert.ok(!list.includes(forged));
});

test('session-bind is processed while the agent is locked, so a forwarded connection stays bound after unlock', async () => {
  const key = generateKeyPairSync('ed25519');
  const hostKey = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(key.publicKey.export({ format: 'jwk' }).x!, 'base64url') });
  const sid = randomBytes(32);
  const sig = new SshWriter().string('ssh-ed25519').string(sign(null, sid, key.privateKey)).toBuffer();
  const bind = extension('session-bind@openssh.com', new SshWriter().string(hostKey).string(sid).string(sig).bool(true).toBuffer());
  const lock = (code: number) => new SshWriter().uint8(code).string('lock pass').toBuffer();
  const forwarded = await Conn.open(agent.sock);
  try {
    assert.deepEqual(await agentCall(agent.sock, lock(22)), Buffer.of(SSH_AGENT_SUCCESS));
    assert.deepEqual(await forwarded.call(bind), Buffer.of(SSH_AGENT_SUCCESS), 'bound while locked');
    assert.deepEqual(await agentCall(agent.sock, lock(23)), Buffer.of(SSH_AGENT_SUCCESS));
    // After unlock the channel is still a forwarded one: it may not load modules.
    const load = new SshWriter().uint8(20).string('/usr/lib/softhsm/libsofthsm2.so').string('').toBuffer();
    assert.deepEqual(await forwarded.call(load), Buffer.of(SSH_AGENT_FAILURE));
    await agent.waitForLog(/refusing to load module "\/usr\/lib\/softhsm\/libsofthsm2.so" from a forwarded connection/);
  } finally {
    forwarded.close();
  }
});

/** One connection kept open across requests (replies in order). */
class Conn {
  private readonly decoder = new FrameDecoder();
  private readonly waiting: ((b: Buffer) => void)[] = [];
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d) => {
      for (const body of this.decoder.push(d)) this.waiting.shift()?.(body);
    });
  }
  static open(sock: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(sock);
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  call(body: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.write(frame(body));
    });
  }
  close(): void {
    this.socket.destroy();
  }
}
