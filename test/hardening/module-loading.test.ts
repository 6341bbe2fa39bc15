// Which libraries a client can make the agent load, tried as an outsider would: a module
// outside the allowlist (named directly, or through a symlink inside an allowed directory),
// a library that is not a PKCS#11 module at all, and a load request arriving over a
// forwarded connection (CVE-2023-38408).
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { run } from '../helpers/sshd';
import {
  addSmartcardKey,
  buildFixture,
  fixturesUnavailable,
  openTempDir,
  RawClient,
  sessionBind,
  SSH_AGENT_FAILURE,
  SSH_AGENT_SUCCESS,
} from './helpers';

let tok: TestToken;
let work: string;
let allowed: string;
let outside: string;
let askpassEnv: NodeJS.ProcessEnv;

before(() => {
  tok = makeToken({ tokens: [{ label: 'modules', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'modules-p256' }] }], setEnv: false });
  work = openTempDir('tt-modules-');
  allowed = path.join(work, 'allowed');
  outside = path.join(work, 'outside');
  fs.mkdirSync(allowed);
  fs.mkdirSync(outside);
  const askpass = path.join(work, 'askpass');
  fs.writeFileSync(askpass, `#!/bin/sh\necho ${tok.pin}\n`, { mode: 0o755 });
  askpassEnv = { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
});
after(() => {
  tok?.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function agentWith(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningAgent> {
  return startAgent({ args, env: { ...tok.env, ...extraEnv } });
}

test('a module outside the allowlist is refused, named directly or through a symlink in an allowed directory', async (t) => {
  // The real SoftHSM, copied outside the allowlist; a symlink to it sits inside.
  const real = path.join(outside, 'libreal-softhsm.so');
  fs.copyFileSync(SOFTHSM_MODULE, real);
  const link = path.join(allowed, 'libtoken.so');
  fs.symlinkSync(real, link);
  const inside = path.join(allowed, 'libcopy.so');
  fs.copyFileSync(SOFTHSM_MODULE, inside);
  const agent = await agentWith(['-P', `${allowed}/*`]);
  t.after(() => agent.stop());
  const env = { ...agent.env, ...askpassEnv };
  const refusal = `module ${real} is not in the allowlist ${allowed}/*`;

  for (const target of [link, real]) {
    const viaSshAdd = await run('ssh-add', ['-s', target], { env });
    assert.notEqual(viaSshAdd.code, 0, `ssh-add -s ${target} must fail`);
    const viaCli = await run(process.execPath, [TT_AGENT_BIN, 'add', target], { env });
    assert.equal(viaCli.code, 1, viaCli.stderr);
  }
  await agent.waitForLog(refusal);
  assert.doesNotMatch(agent.log(), /added \d+ key/, 'nothing was loaded');

  // The same library inside the allowed directory loads: the allowlist is what refused.
  const ok = await run('ssh-add', ['-s', inside], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const listed = await run('ssh-add', ['-l'], { env: agent.env });
  assert.match(listed.stdout, /modules-p256/);
});

// The agent keeps its refusals for status@tt-agent (`refusals`); `tt-agent add` has to print
// the one for its module instead of the generic "refused" line.
test('tt-agent add says which realpath was refused and names the allowlist', async (t) => {
  const real = path.join(outside, 'libreal-softhsm-cli.so');
  fs.copyFileSync(SOFTHSM_MODULE, real);
  const link = path.join(allowed, 'libtoken-cli.so');
  fs.symlinkSync(real, link);
  const agent = await agentWith(['-P', `${allowed}/*`]);
  t.after(() => agent.stop());
  const viaCli = await run(process.execPath, [TT_AGENT_BIN, 'add', link], { env: { ...agent.env, ...askpassEnv } });
  assert.equal(viaCli.code, 1, viaCli.stderr);
  assert.ok(viaCli.stderr.includes(real), `tt-agent add names the realpath:\n${viaCli.stderr}`);
  assert.ok(viaCli.stderr.includes(`${allowed}/*`), `tt-agent add names the allowlist:\n${viaCli.stderr}`);
});

test('a library without C_GetFunctionList is refused before it is mapped: its constructor never runs', { skip: fixturesUnavailable() }, async (t) => {
  const lib = buildFixture('not-pkcs11', allowed);
  const marker = path.join(work, 'constructor-ran');
  const agent = await agentWith(['-P', `${allowed}/*`], { TT_LOADED_MARKER: marker });
  t.after(() => agent.stop());

  // The fixture does run its constructor when anything dlopen()s it (proves the marker works).
  const probe = await run(process.execPath, ['-e', `process.dlopen({exports:{}}, ${JSON.stringify(lib)})`], { env: { ...process.env, TT_LOADED_MARKER: marker } });
  assert.ok(fs.existsSync(marker), `dlopen runs the constructor (${probe.stderr.trim()})`);
  fs.rmSync(marker);

  const r = await run('ssh-add', ['-s', lib], { env: { ...agent.env, ...askpassEnv } });
  assert.notEqual(r.code, 0);
  await agent.waitForLog(`${lib} does not export C_GetFunctionList, so it is not a PKCS#11 module; it was not loaded`);
  assert.ok(!fs.existsSync(marker), 'the agent (and its module hosts) never mapped the library');
});

test('forwarded connections may not load modules (session-bind first), unless the agent allows it', async (t) => {
  const agent = await agentWith([]);
  t.after(() => agent.stop());

  for (const forwarding of [true, false]) {
    const c = await RawClient.connect(agent.sock);
    assert.equal((await c.request(sessionBind(forwarding)))[0], SSH_AGENT_SUCCESS, 'a genuine session-bind is accepted');
    assert.equal((await c.request(addSmartcardKey(SOFTHSM_MODULE, tok.pin)))[0], SSH_AGENT_FAILURE);
    assert.deepEqual(await c.identities(), []);
    c.end();
  }
  await agent.waitForLog(`refusing to load module "${SOFTHSM_MODULE}" from a forwarded connection`);
  await agent.waitForLog(`refusing to load module "${SOFTHSM_MODULE}" from a connection bound to an ssh session`);

  // The same request on a local (unbound) connection loads: the binding is what refused.
  const local = await RawClient.connect(agent.sock);
  assert.equal((await local.request(addSmartcardKey(SOFTHSM_MODULE, tok.pin), 60_000))[0], SSH_AGENT_SUCCESS);
  assert.equal((await local.identities()).length, 1);
  local.end();
});

test('TT_AGENT_ALLOW_REMOTE_MODULES=1 lets a forwarded connection load a module, with a warning at start', async (t) => {
  const agent = await agentWith([], { TT_AGENT_ALLOW_REMOTE_MODULES: '1' });
  t.after(() => agent.stop());
  await agent.waitForLog('forwarded connections may load PKCS#11 modules');
  const c = await RawClient.connect(agent.sock);
  assert.equal((await c.request(sessionBind(true)))[0], SSH_AGENT_SUCCESS);
  assert.equal((await c.request(addSmartcardKey(SOFTHSM_MODULE, tok.pin), 60_000))[0], SSH_AGENT_SUCCESS);
  assert.deepEqual((await c.identities()).map((i) => i.comment), ['modules-p256']);
  c.end();
});
