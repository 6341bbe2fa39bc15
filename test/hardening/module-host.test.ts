// The module host boundary, tried from inside a module as vendor code could: a rogue
// allowlisted .so (test/fixtures/rogue-pkcs11.c: SoftHSM underneath) that writes to the
// channel on fd 3 from its constructor or from a thread of its own. Each bad thing ends that
// module's host (logged) and nothing else: the agent stays up, its file key and a healthy
// SoftHSM token keep signing (checked with node:crypto), and no PIN leaves the broker for a
// token the module does not serve.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FrameKind } from '../../src/host/channel';
import { encodeHostEvent } from '../../src/host/host-frames';
import type { HostEvent } from '../../src/host/messages';
import type { PublicKey } from '../../src/protocol/public-key';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { run } from '../helpers/sshd';
import { verifySshSignature } from '../host/verify';
import { buildFixture, fixturesUnavailable, openTempDir, RawClient } from './helpers';

const skip = fixturesUnavailable();
type Key = { blob: Buffer; publicKey: PublicKey };

let work: string;
let rogueLib: string;
let rogue: TestToken;
let healthy: TestToken;
let fileKey: string;

before(() => {
  if (skip) return;
  work = openTempDir('tt-rogue-');
  fs.mkdirSync(path.join(work, 'lib'));
  rogueLib = buildFixture('rogue-pkcs11', path.join(work, 'lib'));
  rogue = makeToken({ tokens: [{ label: 'rogue', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'rogue-p256' }] }], setEnv: false });
  healthy = makeToken({ tokens: [{ label: 'healthy', keys: [{ kind: 'ed25519', id: '01', label: 'healthy-ed25519' }] }], setEnv: false });
  fileKey = path.join(work, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'file-key', '-f', fileKey]);
});
after(() => {
  rogue?.cleanup();
  healthy?.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function serialOf(tok: TestToken): string {
  return /serial num\s*:\s*(\S+)/.exec(tok.pkcs11Tool(['-L']))![1];
}

// uint32 length / byte kind / uint32 request id / payload (src/host/channel.ts).
const HEADER = 9;

/** One host→agent frame, as the module host would write it on fd 3. */
function hostFrame(kind: FrameKind, id: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(HEADER + payload.length);
  f.writeUInt32BE(HEADER - 4 + payload.length, 0);
  f[4] = kind;
  f.writeUInt32BE(id, 5);
  payload.copy(f, HEADER);
  return f;
}

const event = (ev: HostEvent) => hostFrame(FrameKind.EVENT, 0, encodeHostEvent(ev));
const pinRequest = (label: string, serial: string) => event({ type: 'pin-request', requestId: 1, token: { label, serial }, why: {} });

/** What the rogue's thread writes next (renamed into place: it never reads half a file). */
function sendFromModule(frames: string, bytes: Buffer): void {
  fs.writeFileSync(`${frames}.tmp`, bytes);
  fs.renameSync(`${frames}.tmp`, frames);
}

interface Setup {
  agent: RunningAgent;
  /** ssh-add's environment, with an askpass that types the PIN. */
  env: NodeJS.ProcessEnv;
  keys: Record<string, Key>;
  frames: string;
  control: string;
}

/** An agent with the file key and the healthy token (PIN kept by the broker), then the rogue. */
async function setup(t: test.TestContext, extraEnv: NodeJS.ProcessEnv, opts: { loadRogue?: boolean } = {}): Promise<Setup> {
  const dir = fs.mkdtempSync(path.join(work, 'run-'));
  const frames = path.join(dir, 'frames');
  const control = path.join(dir, 'control');
  fs.writeFileSync(control, 'ok\n');
  const agent = await startAgent({
    args: ['-P', `${path.dirname(rogueLib)}/*,${path.dirname(fs.realpathSync(SOFTHSM_MODULE))}/*`],
    env: { ...healthy.env, TT_ROGUE_SOFTHSM2_CONF: rogue.conf, TT_ROGUE_FRAMES: frames, TT_ROGUE_CONTROL: control, ...extraEnv },
  });
  t.after(async () => {
    fs.rmSync(frames, { force: true });
    await agent.stop();
  });
  const askpass = path.join(dir, 'askpass');
  fs.writeFileSync(askpass, `#!/bin/sh\necho ${healthy.pin}\n`, { mode: 0o755 });
  const env = { ...agent.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  for (const args of [[fileKey], ['-s', SOFTHSM_MODULE], ...(opts.loadRogue === false ? [] : [['-s', rogueLib]])]) {
    const r = await run('ssh-add', args, { env });
    assert.equal(r.code, 0, `ssh-add ${args.join(' ')}: ${r.stderr}\n${agent.log()}`);
  }
  const c = await RawClient.connect(agent.sock);
  const keys = Object.fromEntries((await c.identities()).map((i) => [i.comment, i]));
  c.end();
  return { agent, env, keys, frames, control };
}

async function signsAndVerifies(sock: string, key: Key, what: string): Promise<void> {
  const c = await RawClient.connect(sock);
  try {
    const data = Buffer.from(`${what} ${Date.now()}`);
    const sig = await c.sign(key.blob, data, 0, 10_000);
    assert.ok(sig, `${what}: the agent answered SSH_AGENT_FAILURE`);
    verifySshSignature(key.publicKey, data, sig);
  } finally {
    c.end();
  }
}

async function stillServes(s: Setup, what: string): Promise<void> {
  assert.equal(s.agent.child.exitCode, null, `the agent is still running (${what})`);
  await signsAndVerifies(s.agent.sock, s.keys['file-key'], `file key ${what}`);
  await signsAndVerifies(s.agent.sock, s.keys['healthy-ed25519'], `healthy token ${what}`);
}

const quoted = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('a module whose constructor writes 11 garbage bytes to fd 3 loses its host; the agent and its other keys live on', { skip, timeout: 120_000 }, async (t) => {
  const garbage = path.join(work, 'garbage');
  // A header that frames well (length 7, EVENT, id 0) around two bytes no decoder accepts.
  fs.writeFileSync(garbage, Buffer.from('000000070600000000ffff', 'hex'));
  const s = await setup(t, { TT_ROGUE_AT_LOAD: garbage }, { loadRogue: false });
  const r = await run('ssh-add', ['-s', rogueLib], { env: s.env });
  assert.notEqual(r.code, 0, 'the rogue module was not added');
  await s.agent.waitForLog(new RegExp(`refused: module host for ${quoted(rogueLib)} sent a malformed frame \\(.+\\); it is killed`));
  await stillServes(s, 'after the garbage');
});

test("a module host that asks for another token's PIN is refused and killed; that PIN never leaves the broker", { skip, timeout: 120_000 }, async (t) => {
  const s = await setup(t, { TT_AGENT_SIGN_TIMEOUT_MS: '20000' });
  await signsAndVerifies(s.agent.sock, s.keys['rogue-p256'], 'rogue before');
  // A signature of its own pending, so only the token check can refuse.
  fs.writeFileSync(s.control, 'hang\n');
  const c = await RawClient.connect(s.agent.sock);
  t.after(() => c.end());
  const started = Date.now();
  const pending = c.sign(s.keys['rogue-p256'].blob, Buffer.from('cover'), 0, 30_000);
  sendFromModule(s.frames, pinRequest('healthy', serialOf(healthy)));
  await s.agent.waitForLog(new RegExp(`refused: module host for ${quoted(rogueLib)} asked about token "healthy" \\(serial ${serialOf(healthy)}\\), which it does not serve; it is killed`));
  assert.equal(await pending, null, 'the pending signature of the killed host fails');
  assert.ok(Date.now() - started < 15_000, 'it failed because the host was killed, not at the sign timeout');
  await stillServes(s, 'after the theft attempt');
  fs.writeFileSync(s.control, 'ok\n');
  await signsAndVerifies(s.agent.sock, s.keys['rogue-p256'], 'rogue module after its host was replaced');
});

test('a PIN request with no signature pending is refused and kills that host', { skip, timeout: 120_000 }, async (t) => {
  const s = await setup(t, {});
  sendFromModule(s.frames, pinRequest('rogue', serialOf(rogue)));
  await s.agent.waitForLog(new RegExp(`refused: module host for ${quoted(rogueLib)} asked for the PIN of token "rogue" \\(serial \\S+\\) with no signature pending; it is killed`));
  await stillServes(s, 'after the refused request');
});

test('a flood of events does not keep a hung signature alive past the sign timeout', { skip, timeout: 120_000 }, async (t) => {
  const timeoutMs = 1500;
  const s = await setup(t, { TT_AGENT_SIGN_TIMEOUT_MS: String(timeoutMs), TT_ROGUE_REPEAT: '1' });
  fs.writeFileSync(s.control, 'hang\n');
  const c = await RawClient.connect(s.agent.sock);
  t.after(() => c.end());

  // Log lines every 20 ms: harmless, and they move no clock.
  let started = Date.now();
  let pending = c.sign(s.keys['rogue-p256'].blob, Buffer.from('hung 1'), 0, 30_000);
  sendFromModule(s.frames, event({ type: 'log', level: 'info', message: 'still busy\nforged: line' }));
  assert.equal(await pending, null);
  let waited = Date.now() - started;
  assert.ok(waited >= timeoutMs - 50 && waited < timeoutMs + 3000, `log flood: failed after ${waited} ms`);
  await s.agent.waitForLog(/stopped answering for 1\.5 s and was killed/);
  assert.match(s.agent.log(), /still busy\\x0aforged: line/, 'the host-sent line reached the log escaped');
  fs.rmSync(s.frames, { force: true });

  // PIN requests for its own token every 20 ms: each one used to restart the clock.
  started = Date.now();
  pending = c.sign(s.keys['rogue-p256'].blob, Buffer.from('hung 2'), 0, 30_000);
  await s.agent.waitForLog(/restarting module host/);
  sendFromModule(s.frames, pinRequest('rogue', serialOf(rogue)));
  assert.equal(await pending, null);
  waited = Date.now() - started;
  fs.rmSync(s.frames, { force: true });
  assert.ok(waited < timeoutMs + 3000, `PIN request flood: failed after ${waited} ms`);
  // Refused as soon as it asked more than any signature needs (or before its signature was sent).
  assert.match(s.agent.log(), /asked for the PIN of token "rogue" \(serial \S+\) (more often than its signatures need|with no signature pending); it is killed/);
  await stillServes(s, 'after the floods');
});

test("a module that reports another module's token (same label and serial) gets neither the token nor its PIN", { skip, timeout: 120_000 }, async (t) => {
  // The rogue wraps the healthy token's own store: it names the very same token.
  const s = await setup(t, { TT_ROGUE_SOFTHSM2_CONF: healthy.conf }, { loadRogue: false });
  const r = await run('ssh-add', ['-s', rogueLib], { env: s.env });
  assert.notEqual(r.code, 0, 'the impostor module added no key');
  await s.agent.waitForLog(/all report token "healthy" \(serial \S+\): none of them gets its PIN/);
  await s.agent.waitForLog(/also reported by another loaded module/);
  await stillServes(s, 'after the impostor');
});
