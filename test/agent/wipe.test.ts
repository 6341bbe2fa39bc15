// Every request body is wiped once answered, refused ones included: a PIN sent in an
// unlock-token@tt-agent to a locked agent, or on a connection that may not send it, must not
// stay in the agent's memory until the garbage collector happens to reuse the buffer.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AgentCore } from '../../src/agent/core';
import { dispatch } from '../../src/agent/dispatch';
import { newConnectionState } from '../../src/agent/connection-state';
import { encodeUnlockRequest } from '../../src/protocol/pin-extension-messages';
import { SshWriter } from '../../src/protocol/wire';

function core(): AgentCore {
  return new AgentCore({ allowlist: [], log: () => undefined, confirm: async () => ({ allowed: false }), allowRemoteProviders: false, version: 'test' });
}

const PIN = Buffer.from('Pin-0815-wipe');
const contains = (body: Buffer) => body.includes(PIN);

test('an unlock-token PIN sent to a locked agent is wiped though the request is refused', async () => {
  const c = core();
  const conn = newConnectionState(1);
  assert.equal((await dispatch(new SshWriter().uint8(22).string('lockpw').toBuffer(), { core: c, conn }))[0], 6);
  const body = encodeUnlockRequest({ selector: 'tok', pin: PIN, remember: false });
  assert.ok(contains(body));
  assert.equal((await dispatch(body, { core: c, conn }))[0], 5, 'refused while locked');
  assert.ok(!contains(body), 'PIN wiped');
  assert.ok(body.every((b) => b === 0));
});

test('a PIN in a request a bound connection may not send is wiped too', async () => {
  const c = core();
  const conn = newConnectionState(2);
  conn.bindAttempted = true;
  const body = encodeUnlockRequest({ selector: 'tok', pin: PIN, remember: false });
  assert.equal((await dispatch(body, { core: c, conn }))[0], 5);
  assert.ok(body.every((b) => b === 0));
});
