// The PIN broker against a real SSH_ASKPASS program: OpenSSH's SSH_ASKPASS_REQUIRE rules,
// what the prompt says, and the safety rules (final try, reject, lock, lifetimes).
import assert from 'node:assert/strict';
import test from 'node:test';
import { PinBroker, type PinBrokerOptions } from '../../src/pin/broker';
import type { TokenRef } from '../../src/pin/token-ref';
import { baseEnv, ManualClock, tempDir, writeAskpass } from './helpers';

const TOKEN: TokenRef = { label: 'work card', serial: '0123abcd' };
const OTHER: TokenRef = { label: 'backup', serial: '99' };

function setup(t: Parameters<typeof tempDir>[0], env: NodeJS.ProcessEnv, extra: PinBrokerOptions = {}) {
  const dir = tempDir(t);
  const ask = writeAskpass(dir);
  const logLines: string[] = [];
  const broker = new PinBroker({
    askpass: { env: baseEnv({ SSH_ASKPASS: ask.program, ASKPASS_LOG: ask.log, ASKPASS_PIN: '246810', ...env }) },
    pinentry: false,
    unlockWaitMs: 200,
    log: (l) => logLines.push(l),
    ...extra,
  });
  t.after(() => broker.close());
  return { broker, ask, logLines };
}

const str = (b: Buffer | null) => (b === null ? null : b.toString('utf8'));

test('SSH_ASKPASS with a DISPLAY: the prompt names the token, the PIN comes from its stdout', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7' });
  assert.equal(str(await broker.getPin(TOKEN, {})), '246810');
  const [prompt] = ask.prompts();
  assert.match(prompt, /"work card"/);
  assert.match(prompt, /serial 0123abcd/);
});

test('SSH_ASKPASS_REQUIRE: unset or prefer needs a display, force does not, never forbids', async (t) => {
  const cases: { env: NodeJS.ProcessEnv; asked: boolean }[] = [
    { env: {}, asked: false },
    { env: { SSH_ASKPASS_REQUIRE: 'prefer' }, asked: false },
    { env: { SSH_ASKPASS_REQUIRE: 'prefer', WAYLAND_DISPLAY: 'wayland-0' }, asked: true },
    { env: { SSH_ASKPASS_REQUIRE: 'force' }, asked: true },
    { env: { SSH_ASKPASS_REQUIRE: 'never', DISPLAY: ':7' }, asked: false },
  ];
  for (const c of cases) {
    const { broker, ask, logLines } = setup(t, c.env);
    const pin = await broker.getPin(TOKEN, {});
    const label = JSON.stringify(c.env);
    assert.equal(ask.prompts().length, c.asked ? 1 : 0, label);
    assert.equal(str(pin), c.asked ? '246810' : null, label);
    if (!c.asked) assert.ok(logLines.some((l) => l.includes("run 'tt-agent unlock")), `${label}: says how to unlock`);
  }
});

test('a cancelled askpass gives no PIN and is not retried', async (t) => {
  const { broker, ask, logLines } = setup(t, { DISPLAY: ':7', ASKPASS_EXIT: '1' });
  assert.equal(await broker.getPin(TOKEN, {}), null);
  assert.equal(ask.prompts().length, 1);
  assert.ok(logLines.some((l) => /cancelled/.test(l)));
});

test('the prompt tells the tries left', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7' }, { cacheLifetimeMs: 0 });
  await broker.getPin(TOKEN, { triesLeft: 'low' });
  await broker.getPin(TOKEN, { tries: 2 });
  await broker.getPin(TOKEN, { triesLeft: 'final' });
  await broker.getPin(TOKEN, { contextSpecific: true, keyLabel: 'SIGN key' });
  const [low, two, final, ctx] = ask.prompts();
  assert.match(low, /few tries left/);
  assert.match(two, /2 tries left/);
  assert.match(final, /LAST TRY: a wrong PIN locks the token/);
  assert.match(ctx, /sign once with key "SIGN key"/);
});

test('final try: never the cached PIN, always a prompt that says so', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7' });
  await broker.supply(TOKEN, Buffer.from('111111'));
  assert.equal(str(await broker.getPin(TOKEN, { triesLeft: 'low' })), '111111', 'cache used while tries remain');
  assert.equal(ask.prompts().length, 0);
  assert.equal(str(await broker.getPin(TOKEN, { triesLeft: 'final' })), '246810');
  assert.equal(ask.prompts().length, 1);
  assert.match(ask.prompts()[0], /LAST TRY/);
});

test('reject (CKR_PIN_INCORRECT) drops the cached PIN; the next login prompts', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7' });
  await broker.supply(TOKEN, Buffer.from('000000'));
  assert.equal(str(await broker.getPin(TOKEN, {})), '000000', 'handed out from the cache');
  await broker.reject(TOKEN);
  // A second report of the same failure hands nothing out and forgets nothing more.
  await broker.reject(TOKEN);
  assert.equal(str(await broker.getPin(TOKEN, {})), '246810');
  assert.equal(ask.prompts().length, 1);
});

test('cache lifetime follows the injected clock', async (t) => {
  const clock = new ManualClock();
  const { broker, ask } = setup(t, { DISPLAY: ':7' }, { cacheLifetimeMs: 60_000, now: clock.now });
  await broker.supply(TOKEN, Buffer.from('135790'));
  clock.advance(59_999);
  assert.equal(str(await broker.getPin(TOKEN, {})), '135790');
  assert.equal(ask.prompts().length, 0);
  clock.advance(1);
  assert.equal(str(await broker.getPin(TOKEN, {})), '246810');
  assert.equal(ask.prompts().length, 1);
});

test('forgetAll (ssh-add -x) zeroes the PINs it held', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7' });
  const given = Buffer.from('864200');
  const other = Buffer.from('1357');
  await broker.supply(TOKEN, given);
  await broker.supply(OTHER, other);
  const copy = await broker.getPin(TOKEN, {});
  assert.equal(str(copy), '864200', 'callers get their own copy');
  broker.forgetAll();
  assert.ok(given.every((b) => b === 0), 'the supplied buffer is zeroed');
  assert.ok(other.every((b) => b === 0));
  assert.equal(str(copy), '864200', "a caller's copy is the caller's to zero");
  assert.equal(str(await broker.getPin(TOKEN, {})), '246810');
  assert.equal(ask.prompts().length, 1);
});

test('a token absent longer than absentForgetMs loses its cached PIN; a short absence keeps it', async (t) => {
  const clock = new ManualClock();
  const { broker, ask } = setup(t, { DISPLAY: ':7' }, { absentForgetMs: 30_000, now: clock.now });
  await broker.supply(TOKEN, Buffer.from('112233'));
  broker.tokenAbsent(TOKEN);
  clock.advance(10_000);
  broker.tokenPresent(TOKEN);
  assert.equal(str(await broker.getPin(TOKEN, {})), '112233');
  broker.tokenAbsent(TOKEN);
  clock.advance(30_000);
  broker.tokenPresent(TOKEN);
  assert.equal(str(await broker.getPin(TOKEN, {})), '246810');
  assert.equal(ask.prompts().length, 1);
});

test('with no way to prompt, a login waits for tt-agent unlock (supply)', async (t) => {
  const { broker, logLines } = setup(t, {}, { unlockWaitMs: 5000 });
  const pending = broker.getPin(TOKEN, {});
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(broker.waiting(), [TOKEN]);
  assert.equal(broker.findToken(''), TOKEN, 'an empty selector names the one waiting token');
  await broker.supply(broker.findToken('')!, Buffer.from('445566'));
  assert.equal(str(await pending), '445566');
  assert.ok(logLines.some((l) => l.includes("tt-agent unlock 'work card'")));
  assert.ok(!logLines.join('\n').includes('445566'), 'the PIN is never logged');
});

test('concurrent logins on one token share one prompt', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7', ASKPASS_SLEEP: '0.2' });
  const pins = await Promise.all([broker.getPin(TOKEN, {}), broker.getPin(TOKEN, {}), broker.getPin(TOKEN, {})]);
  assert.deepEqual(pins.map(str), ['246810', '246810', '246810']);
  assert.equal(ask.prompts().length, 1);
  assert.notEqual(pins[0], pins[1], 'each caller gets its own buffer');
});

test('locked (CKR_PIN_LOCKED) names the token and how to unblock it, and forgets the PIN', async (t) => {
  const { broker, ask } = setup(t, { DISPLAY: ':7' });
  await broker.supply(TOKEN, Buffer.from('000000'));
  const msg = await broker.locked(TOKEN);
  assert.match(msg, /"work card" \(serial 0123abcd\) is locked/);
  assert.match(msg, /CKR_PIN_LOCKED/);
  assert.match(msg, /PUK/);
  assert.match(msg, /yubico-piv-tool -a unblock-pin/);
  assert.match(msg, /pkcs11-tool --module MODULE/);
  await broker.getPin(TOKEN, {});
  assert.equal(ask.prompts().length, 1);
});

test('an askpass program that cannot run is reported and the next way is tried', async (t) => {
  const { broker, logLines } = setup(t, { SSH_ASKPASS_REQUIRE: 'force', SSH_ASKPASS: '/nonexistent/askpass' });
  assert.equal(await broker.getPin(TOKEN, {}), null);
  assert.ok(logLines.some((l) => l.includes('cannot run /nonexistent/askpass (ENOENT)') && l.includes("run 'tt-agent unlock")), logLines.join('\n'));
});
