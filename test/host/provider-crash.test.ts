// Crash containment (issue 8): a module host that dies or hangs fails its pending requests
// with a clear error, and the next request runs on a new host that loaded the same token
// again with the PIN it was given.
import assert from 'node:assert/strict';
import test from 'node:test';
import { HostCrashedError, HostTimeoutError } from '../../src/host/host-errors';
import type { ProviderStatus } from '../../src/host/messages';
import { createHostProvider } from '../../src/host/host-provider';
import { quietPins } from './pins';
import { makeToken } from '../helpers/softhsm';
import { verifySshSignature } from './verify';

async function hostPid(p: { status(): Promise<ProviderStatus> }): Promise<number> {
  const s = await p.status();
  assert.ok(s.host, 'host running');
  return s.host.pid;
}

test('a host killed by SIGSEGV fails what was pending and comes back on the next signature', { timeout: 60_000 }, async (t) => {
  const tok = makeToken();
  const logs: string[] = [];
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env, log: (_l, m) => logs.push(m) });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities } = await provider.load(Buffer.from(tok.pin));
  const p256 = identities.find((i) => i.comment === 'p256')!;
  const pid = await hostPid(provider);

  // Stopped, the host cannot answer; the signature stays pending until the crash.
  process.kill(pid, 'SIGSTOP');
  const pending = provider.sign(p256.blob, Buffer.from('lost'), 0);
  await new Promise((r) => setTimeout(r, 100));
  process.kill(pid, 'SIGSEGV');
  process.kill(pid, 'SIGCONT');
  await assert.rejects(pending, (err: unknown) => err instanceof HostCrashedError && /died \(SIGSEGV\)/.test((err as Error).message));
  assert.ok(logs.some((l) => /died \(SIGSEGV\)/.test(l)), 'the crash is logged');

  const data = Buffer.from('after the crash');
  verifySshSignature(p256.publicKey, data, await provider.sign(p256.blob, data, 0));
  const status = await provider.status();
  assert.equal(status.restarts, 1);
  assert.notEqual(status.host!.pid, pid);
  assert.equal(status.host!.tokens[0].loggedIn, true, 'the new host logged in with the kept PIN');
});

test('a host that stops answering times out, is replaced, and signs again', { timeout: 60_000 }, async (t) => {
  const tok = makeToken();
  const provider = createHostProvider(tok.module, { pins: quietPins(), env: tok.env, signTimeoutMs: 500 });
  t.after(async () => {
    await provider.close();
    tok.cleanup();
  });
  const { identities } = await provider.load(Buffer.from(tok.pin));
  const ed = identities.find((i) => i.comment === 'ed25519')!;
  const pid = await hostPid(provider);
  process.kill(pid, 'SIGSTOP');
  const started = Date.now();
  await assert.rejects(provider.sign(ed.blob, Buffer.from('hung'), 0), HostTimeoutError);
  assert.ok(Date.now() - started < 3000);

  const data = Buffer.from('after the hang');
  verifySshSignature(ed.publicKey, data, await provider.sign(ed.blob, data, 0));
  assert.notEqual(await hostPid(provider), pid);
});
