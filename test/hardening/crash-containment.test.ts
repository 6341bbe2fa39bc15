// A PKCS#11 module that crashes or hangs costs only its own keys. The agent holds a file key,
// a healthy SoftHSM token and a deliberately broken module (test/fixtures/broken-pkcs11.c:
// SoftHSM underneath, C_Sign segfaulting or never returning once a control file says so).
// Every signature is checked with node:crypto, independently of the agent.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { run } from '../helpers/sshd';
import { verifySshSignature } from '../host/verify';
import { buildFixture, fixturesUnavailable, openTempDir, RawClient } from './helpers';

const skip = fixturesUnavailable();
const SIGN_TIMEOUT_MS = 1500;

let work: string;
let brokenLib: string;
let control: string;
let broken: TestToken;
let healthy: TestToken;
let fileKey: string;

before(() => {
  if (skip) return;
  work = openTempDir('tt-crash-');
  const libDir = path.join(work, 'lib');
  fs.mkdirSync(libDir);
  brokenLib = buildFixture('broken-pkcs11', libDir);
  control = path.join(work, 'control');
  // Different token labels: different keys, so each blob belongs to exactly one module.
  broken = makeToken({ tokens: [{ label: 'broken', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'broken-p256' }] }], setEnv: false });
  healthy = makeToken({ tokens: [{ label: 'healthy', keys: [{ kind: 'ed25519', id: '01', label: 'healthy-ed25519' }] }], setEnv: false });
  fileKey = path.join(work, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'file-key', '-f', fileKey]);
});
after(() => {
  broken?.cleanup();
  healthy?.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** An agent with the file key, the healthy token and the broken module loaded. */
async function loadedAgent(): Promise<{ agent: RunningAgent; keys: Record<string, { blob: Buffer; publicKey: import('../../src/protocol/public-key').PublicKey }> }> {
  fs.writeFileSync(control, 'ok\n');
  const agent = await startAgent({
    // Matched against realpaths: SoftHSM's lives under /usr/lib/<triplet>/softhsm/.
    args: ['-P', `${path.dirname(brokenLib)}/*,${path.dirname(fs.realpathSync(SOFTHSM_MODULE))}/*`],
    env: {
      ...healthy.env,
      TT_BROKEN_SOFTHSM2_CONF: broken.conf,
      TT_BROKEN_CONTROL: control,
      TT_AGENT_SIGN_TIMEOUT_MS: String(SIGN_TIMEOUT_MS),
    },
  });
  const askpass = path.join(work, 'askpass');
  fs.writeFileSync(askpass, `#!/bin/sh\necho ${healthy.pin}\n`, { mode: 0o755 });
  const env = { ...agent.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  for (const args of [[fileKey], ['-s', SOFTHSM_MODULE], ['-s', brokenLib]]) {
    const r = await run('ssh-add', args, { env });
    assert.equal(r.code, 0, `ssh-add ${args.join(' ')}: ${r.stderr}\n${agent.log()}`);
  }
  const c = await RawClient.connect(agent.sock);
  const ids = await c.identities();
  c.end();
  const keys = Object.fromEntries(ids.map((i) => [i.comment, i]));
  assert.deepEqual(Object.keys(keys).sort(), ['broken-p256', 'file-key', 'healthy-ed25519']);
  return { agent, keys };
}

async function signsAndVerifies(c: RawClient, key: { blob: Buffer; publicKey: import('../../src/protocol/public-key').PublicKey }, what: string): Promise<void> {
  const data = Buffer.from(`${what} ${Date.now()}`);
  const sig = await c.sign(key.blob, data, 0, 10_000);
  assert.ok(sig, `${what}: the agent answered SSH_AGENT_FAILURE`);
  verifySshSignature(key.publicKey, data, sig);
}

test('a module that segfaults in C_Sign costs only its own signature; it is restarted and signs again', { skip, timeout: 120_000 }, async (t) => {
  const { agent, keys } = await loadedAgent();
  t.after(() => agent.stop());
  const c = await RawClient.connect(agent.sock);
  t.after(() => c.end());
  for (const name of ['file-key', 'healthy-ed25519', 'broken-p256']) await signsAndVerifies(c, keys[name], `${name} before`);

  fs.writeFileSync(control, 'crash\n');
  assert.equal(await c.sign(keys['broken-p256'].blob, Buffer.from('boom'), 0, 10_000), null, 'the crashing module fails its request');
  await agent.waitForLog(new RegExp(`module host for ${brokenLib.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} died \\(SIGSEGV\\)`));

  // The agent is up, on the same connection, and everything else still signs.
  assert.equal(agent.child.exitCode, null);
  assert.equal((await c.identities()).length, 3, 'the crashed module keeps its identities listed');
  await signsAndVerifies(c, keys['file-key'], 'file key after the crash');
  await signsAndVerifies(c, keys['healthy-ed25519'], 'healthy token after the crash');

  // While the fault lasts, every attempt costs one restarted host, nothing more.
  assert.equal(await c.sign(keys['broken-p256'].blob, Buffer.from('boom again'), 0, 10_000), null);
  await signsAndVerifies(c, keys['healthy-ed25519'], 'healthy token after the second crash');

  fs.writeFileSync(control, 'ok\n');
  await signsAndVerifies(c, keys['broken-p256'], 'broken module once repaired');
  await agent.waitForLog(`restarting module host for ${brokenLib}`);
});

test('a module whose C_Sign never returns fails after the sign timeout while other signatures keep flowing', { skip, timeout: 120_000 }, async (t) => {
  const { agent, keys } = await loadedAgent();
  t.after(() => agent.stop());
  await agent.waitForLog(`token signatures time out after ${SIGN_TIMEOUT_MS} ms`);
  const hung = await RawClient.connect(agent.sock);
  const other = await RawClient.connect(agent.sock);
  t.after(() => {
    hung.end();
    other.end();
  });

  fs.writeFileSync(control, 'hang\n');
  const started = Date.now();
  const pending = hung.sign(keys['broken-p256'].blob, Buffer.from('never'), 0, 30_000);
  let settled = false;
  void pending.finally(() => (settled = true));

  // While the broken module hangs: file key and healthy token sign, each promptly.
  let during = 0;
  while (Date.now() - started < SIGN_TIMEOUT_MS - 300) {
    const t0 = Date.now();
    await signsAndVerifies(other, keys[during % 2 ? 'file-key' : 'healthy-ed25519'], 'during the hang');
    assert.ok(Date.now() - t0 < 1000, 'a signature elsewhere is not held up by the hung module');
    during++;
  }
  assert.ok(!settled, 'the hung request was still pending meanwhile');
  assert.ok(during >= 2, `signatures went through during the hang (${during})`);

  assert.equal(await pending, null, 'the hung signature fails');
  const waited = Date.now() - started;
  assert.ok(waited >= SIGN_TIMEOUT_MS - 50 && waited < SIGN_TIMEOUT_MS + 5000, `failed after ${waited} ms`);
  await agent.waitForLog(/did not answer within 1\.5 s/);
  await agent.waitForLog(/stopped answering for 1\.5 s and was killed/);

  fs.writeFileSync(control, 'ok\n');
  await signsAndVerifies(other, keys['broken-p256'], 'broken module after the hang');
  await signsAndVerifies(other, keys['file-key'], 'file key at the end');
});
