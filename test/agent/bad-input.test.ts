// Clients that misbehave, over the real socket: garbage, unknown types, truncated bodies,
// oversized frames, idle and half-sent frames, clients that vanish mid-request, pipelined
// requests. The agent answers in order, closes only the offending connection and keeps
// serving everyone else. Also the extensions and the module allowlist.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { run } from '../helpers/sshd';
import { SshReader, SshWriter } from '../../src/protocol/wire';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';

let agent: RunningAgent;
before(async () => {
  agent = await startAgent();
});
after(async () => {
  await agent?.stop();
});

const frame = (body: Buffer) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
};
const REQUEST_IDENTITIES = Buffer.of(11);

/** A raw connection that collects framed replies. */
class Raw {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiting: ((b: Buffer) => void)[] = [];
  private replies: Buffer[] = [];
  closed = false;
  constructor(sock: string) {
    this.socket = net.connect(sock);
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32BE(0)) {
        const body = this.buf.subarray(4, 4 + this.buf.readUInt32BE(0));
        this.buf = this.buf.subarray(4 + body.length);
        const w = this.waiting.shift();
        if (w) w(body);
        else this.replies.push(body);
      }
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }
  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }
  reply(timeoutMs = 5000): Promise<Buffer> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply')), timeoutMs);
      this.waiting.push((b) => {
        clearTimeout(t);
        resolve(b);
      });
    });
  }
  async closedWithin(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }
  end(): void {
    this.socket.destroy();
  }
}

async function connected(): Promise<Raw> {
  const c = new Raw(agent.sock);
  await new Promise<void>((resolve, reject) => {
    c.socket.once('connect', () => resolve());
    c.socket.once('error', reject);
  });
  return c;
}

/** Time for an unrelated client to list identities. */
async function otherClientListMs(): Promise<number> {
  const c = await connected();
  const t0 = Date.now();
  c.send(frame(REQUEST_IDENTITIES));
  const r = await c.reply(3000);
  c.end();
  assert.equal(r[0], 12);
  return Date.now() - t0;
}

test('an unknown message type gets SSH_AGENT_FAILURE and the stream stays in sync', async () => {
  const c = await connected();
  c.send(frame(Buffer.concat([Buffer.of(200), randomBytes(100)])));
  assert.deepEqual(await c.reply(), Buffer.of(5));
  c.send(frame(REQUEST_IDENTITIES));
  assert.equal((await c.reply())[0], 12);
  c.end();
});

test('garbage and truncated bodies get FAILURE, the connection keeps working', async () => {
  const c = await connected();
  // SIGN_REQUEST whose key blob claims 1000 bytes but carries 3.
  c.send(frame(Buffer.concat([Buffer.of(13), Buffer.from([0, 0, 3, 232, 1, 2, 3])])));
  assert.deepEqual(await c.reply(), Buffer.of(5));
  // ADD_IDENTITY with a junk key type.
  c.send(frame(new SshWriter().uint8(17).string('ssh-nonsense').string(randomBytes(50)).toBuffer()));
  assert.deepEqual(await c.reply(), Buffer.of(5));
  for (let i = 0; i < 50; i++) c.send(frame(Buffer.concat([Buffer.of(1 + (i % 30)), randomBytes(i * 7)])));
  for (let i = 0; i < 50; i++) await c.reply();
  c.send(frame(REQUEST_IDENTITIES));
  assert.equal((await c.reply())[0], 12);
  c.end();
});

test('pipelined requests are answered in request order', async () => {
  const c = await connected();
  c.send(Buffer.concat([frame(REQUEST_IDENTITIES), frame(Buffer.of(99)), frame(REQUEST_IDENTITIES), frame(Buffer.of(27, 0, 0, 0, 5, 0x71, 0x75, 0x65, 0x72, 0x79))]));
  const codes = [(await c.reply())[0], (await c.reply())[0], (await c.reply())[0], (await c.reply())[0]];
  assert.deepEqual(codes, [12, 5, 12, 29]);
  c.end();
});

test('a frame over 256 KiB (or of length 0) closes that connection only', async () => {
  const big = await connected();
  const h = Buffer.alloc(4);
  h.writeUInt32BE(256 * 1024 + 1);
  big.send(h);
  assert.ok(await big.closedWithin(3000), 'oversized frame must close the connection');
  const zero = await connected();
  zero.send(Buffer.alloc(4));
  assert.ok(await zero.closedWithin(3000), 'zero-length frame must close the connection');
  // Exactly 256 KiB is allowed: an unknown type that large is skipped with FAILURE.
  const max = await connected();
  max.send(frame(Buffer.concat([Buffer.of(123), Buffer.alloc(256 * 1024 - 1)])));
  assert.deepEqual(await max.reply(), Buffer.of(5));
  max.end();
  assert.ok((await otherClientListMs()) < 1000);
  await agent.waitForLog(/exceeds the 262144-byte limit; closing it/);
});

test('silent clients and half-sent frames never delay other clients', async () => {
  const idle: Raw[] = [];
  for (let i = 0; i < 20; i++) idle.push(await connected());
  // Half a length prefix, and a header promising 1000 bytes followed by 10.
  idle[0].send(Buffer.of(0, 0));
  idle[1].send(Buffer.concat([Buffer.from([0, 0, 3, 232, 13]), randomBytes(9)]));
  for (let i = 0; i < 5; i++) assert.ok((await otherClientListMs()) < 1000);
  for (const c of idle) c.end();
});

test('a client that disconnects mid-request does not disturb the agent', async () => {
  for (let i = 0; i < 20; i++) {
    const c = await connected();
    // An unlock (scrypt runs before the refusal) and half a frame, then vanish before the reply.
    c.send(frame(new SshWriter().uint8(23).string('not locked').toBuffer()));
    c.send(frame(Buffer.of(11)).subarray(0, 3));
    c.end();
  }
  assert.ok((await otherClientListMs()) < 1000);
});

test('wrong unlock attempts are delayed agent-wide; other requests are not kept waiting', async () => {
  const locker = await connected();
  locker.send(frame(new SshWriter().uint8(22).string('right').toBuffer()));
  assert.deepEqual(await locker.reply(), Buffer.of(6));
  // A locked agent is still recognisable as a tt-agent (eval $(tt-agent) must not start another),
  // and says nothing else.
  locker.send(frame(new SshWriter().uint8(27).string('status@tt-agent').toBuffer()));
  const st = new SshReader(await locker.reply());
  assert.equal(st.uint8(), 29);
  st.stringUtf8();
  assert.deepEqual(JSON.parse(st.stringUtf8()), { agent: 'tt-agent', locked: true });
  const t0 = Date.now();
  for (let i = 0; i < 4; i++) locker.send(frame(new SshWriter().uint8(23).string(`wrong${i}`).toBuffer()));
  // 0.1 + 0.2 + 0.3 + 0.4 s of penalty, one after another for the whole agent (as OpenSSH);
  // listing on another connection is not kept waiting.
  assert.ok((await otherClientListMs()) < 300);
  for (let i = 0; i < 4; i++) assert.deepEqual(await locker.reply(5000), Buffer.of(5));
  assert.ok(Date.now() - t0 >= 950, `penalties add up: ${Date.now() - t0} ms`);
  locker.send(frame(new SshWriter().uint8(23).string('right').toBuffer()));
  assert.deepEqual(await locker.reply(5000), Buffer.of(6));
  locker.end();
});

test('query lists the extensions; status@tt-agent answers JSON with pid and uid', async () => {
  const c = await connected();
  c.send(frame(new SshWriter().uint8(27).string('query').toBuffer()));
  const q = new SshReader(await c.reply());
  assert.equal(q.uint8(), 29);
  assert.equal(q.stringUtf8(), 'query');
  const names: string[] = [];
  while (!q.atEnd) names.push(q.stringUtf8());
  assert.deepEqual(names.sort(), ['add-smartcard@tt-agent', 'forget-pin@tt-agent', 'query', 'session-bind@openssh.com', 'status@tt-agent', 'unlock-token@tt-agent']);
  c.send(frame(new SshWriter().uint8(27).string('status@tt-agent').toBuffer()));
  const s = new SshReader(await c.reply());
  assert.equal(s.uint8(), 29);
  assert.equal(s.stringUtf8(), 'status@tt-agent');
  const status = JSON.parse(s.stringUtf8());
  assert.equal(status.agent, 'tt-agent');
  assert.equal(status.pid, agent.pid);
  assert.equal(status.uid, process.getuid!());
  c.send(frame(new SshWriter().uint8(27).string('no-such@example.org').toBuffer()));
  assert.deepEqual(await c.reply(), Buffer.of(5));
  c.end();
});

test('session-bind: a valid host signature is accepted, a forged one refused', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'jwk' }).x!;
  const blob = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(raw, 'base64url') });
  const sid = randomBytes(32);
  const sigBlob = (data: Buffer) => new SshWriter().string('ssh-ed25519').string(sign(null, data, privateKey)).toBuffer();
  const bind = (signature: Buffer, fwd: boolean) =>
    frame(new SshWriter().uint8(27).string('session-bind@openssh.com').string(blob).string(sid).string(signature).bool(fwd).toBuffer());
  const c = await connected();
  c.send(bind(sigBlob(sid), true));
  assert.deepEqual(await c.reply(), Buffer.of(6));
  const d = await connected();
  d.send(bind(sigBlob(randomBytes(32)), false));
  // A known extension that fails: SSH_AGENT_EXTENSION_FAILURE, as OpenSSH's agent answers.
  assert.deepEqual(await d.reply(), Buffer.of(28));
  await agent.waitForLog(/session-bind signature does not verify/);
  c.end();
  d.end();
});

test('module loads: outside the allowlist refused (log names realpath and allowlist); from a bound connection refused', async () => {
  const outside = path.join(agent.dir, 'libevil.so');
  fs.copyFileSync('/usr/lib/softhsm/libsofthsm2.so', outside);
  const link = path.join(agent.dir, 'looks-fine.so');
  fs.symlinkSync(outside, link);
  const askpass = path.join(agent.dir, 'pin');
  fs.writeFileSync(askpass, '#!/bin/sh\necho 123456\n', { mode: 0o755 });
  const env = { ...agent.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  const r = await run('ssh-add', ['-s', link], { env });
  assert.notEqual(r.code, 0);
  await agent.waitForLog(`module ${fs.realpathSync(outside)} is not in the allowlist /usr/lib*/*,/usr/local/lib*/*`);

  // A connection bound to an ssh session (what a forwarded agent looks like) may not load modules.
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const blob = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url') });
  const sid = randomBytes(32);
  const c = await connected();
  c.send(frame(new SshWriter().uint8(27).string('session-bind@openssh.com').string(blob).string(sid)
    .string(new SshWriter().string('ssh-ed25519').string(sign(null, sid, privateKey)).toBuffer()).bool(true).toBuffer()));
  assert.deepEqual(await c.reply(), Buffer.of(6));
  c.send(frame(new SshWriter().uint8(20).string('/usr/lib/softhsm/libsofthsm2.so').string('123456').toBuffer()));
  assert.deepEqual(await c.reply(), Buffer.of(5));
  await agent.waitForLog(/refusing to load module "\/usr\/lib\/softhsm\/libsofthsm2.so" from a forwarded connection/);
  c.end();
});
