// `tt-agent forget-pin` says what it forgot and where (the agent's memory, the OS keyring), or
// that there was nothing; a token nobody knows is an error (exit 1). No D-Bus here: the keyring
// is absent, which the command must say without talking about PIN prompts.
import assert from 'node:assert/strict';
import test from 'node:test';
import { encodeUnlockRequest } from '../../src/protocol/pin-extension-messages';
import { startAgent, type RunningAgent } from '../helpers/agent';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { RawClient } from '../hardening/helpers';
import { runCli } from './pubkey-run';

let tok: TestToken;
let agent: RunningAgent;
let env: NodeJS.ProcessEnv;

test.before(async () => {
  tok = makeToken({ tokens: [{ label: 't', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'k1' }] }], setEnv: false });
  agent = await startAgent({ env: tok.env });
  env = { ...tok.env, SSH_AUTH_SOCK: agent.sock, DBUS_SESSION_BUS_ADDRESS: '', XDG_RUNTIME_DIR: '/nonexistent' };
  delete env.DBUS_SESSION_BUS_ADDRESS;
});
test.after(async () => {
  await agent.stop();
  tok.cleanup();
});

const NO_KEYRING = /^OS keyring: none here \(.*\), so no PIN was kept in one$/;

test('forget-pin before any token: nothing was held, exit 0', () => {
  const r = runCli(['forget-pin'], env);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], NO_KEYRING);
  assert.equal(lines[1], 'no PIN was held: the agent knows no token yet');
  assert.doesNotMatch(r.stdout + r.stderr, /asked for|forgot/);
});

test('a token nobody knows: exit 1 and what to do', () => {
  const r = runCli(['forget-pin', 'nobody'], env);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stderr.split('\n')[0], 'tt-agent: no remembered PIN for token "nobody": no OS keyring here, and the agent knows no such token');
  assert.match(r.stderr.split('\n')[1], /tt-agent status lists the tokens/);
  const none = runCli(['forget-pin', 'nobody'], { ...env, SSH_AUTH_SOCK: '' });
  assert.equal(none.status, 1);
  assert.equal(none.stderr.split('\n')[0], 'tt-agent: no remembered PIN for token "nobody": no OS keyring here, and no running agent was reached');
});

test('a known token: "held no PIN" when none was kept, "forgot" with where when one was', async () => {
  const add = runCli(['add', SOFTHSM_MODULE, '--no-pin'], env);
  assert.equal(add.status, 0, add.stderr);
  const serial = /serial (\w+)/.exec(add.stdout)![1];

  const r = runCli(['forget-pin', 't'], env);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trimEnd().split('\n')[1], `the agent held no PIN for token "t" (serial ${serial})`);

  // Hand the agent a PIN (what tt-agent unlock sends), then forget it.
  const c = await RawClient.connect(agent.sock);
  const reply = await c.request(encodeUnlockRequest({ selector: 't', pin: Buffer.from(tok.pin), remember: false }), 30_000);
  assert.match(reply.toString('latin1'), /PIN handed to the agent/);
  c.end();
  const f = runCli(['forget-pin', 't'], env);
  assert.equal(f.status, 0, f.stderr);
  assert.equal(f.stdout.trimEnd().split('\n')[1], `forgot the PIN of token "t" (serial ${serial}): dropped from the agent's memory`);
  const again = runCli(['forget-pin', 't'], env);
  assert.equal(again.stdout.trimEnd().split('\n')[1], `the agent held no PIN for token "t" (serial ${serial})`);
});
