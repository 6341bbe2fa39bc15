// Runs inside `dbus-run-session` with a fresh gnome-keyring-daemon (see keyring.test.ts):
// the real Secret Service, judged by secret-tool. Exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { PinBroker } from '../../src/pin/broker';
import { keyringAccount, openKeyring } from '../../src/pin/keyring';
import { rememberPin } from '../../src/pin/remember';
import type { TokenRef } from '../../src/pin/token-ref';

const TOKEN: TokenRef = { label: 'work card', serial: '0123abcd' };
const OTHER: TokenRef = { label: 'backup', serial: '77' };

/** What the Secret Service holds for a token, read by another program. */
function lookup(token: TokenRef): string | null {
  const r = spawnSync('secret-tool', ['lookup', 'service', 'tt-agent', 'username', keyringAccount(token)], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const store = await openKeyring({ log: (l) => lines.push(l) });
  assert.ok(store, `keyring expected, got: ${lines.join(' | ')}`);
  assert.deepEqual(lines, []);

  // Round trip, with bytes that are not text.
  const pin = Buffer.from([0x31, 0x32, 0x00, 0xff, 0x33]);
  await store.set(TOKEN, pin);
  assert.deepEqual(pin, Buffer.from([0x31, 0x32, 0x00, 0xff, 0x33]), 'set leaves the caller buffer alone');
  const back = await store.get(TOKEN);
  assert.ok(back && back.equals(pin), 'get returns the stored bytes');
  assert.ok(lookup(TOKEN) !== null, 'secret-tool sees the entry');
  assert.deepEqual(await store.list(), [TOKEN]);
  assert.equal(await store.delete(TOKEN), true);
  assert.equal(await store.get(TOKEN), null);
  assert.equal(lookup(TOKEN), null, 'secret-tool no longer sees it');
  assert.equal(await store.delete(TOKEN), false, 'deleting again says nothing was there');

  // rememberPin (tt-agent add --remember-pin), then a fresh broker (an agent restart) uses it.
  const remembered = await rememberPin(TOKEN, Buffer.from('482615'));
  assert.equal(remembered.ok, true, remembered.message);
  assert.equal(lookup(TOKEN), '482615');

  const askpassLog = path.join(process.env.PIN_TEST_DIR!, 'askpass.log');
  const env = {
    ...process.env,
    SSH_ASKPASS: path.join(process.env.PIN_TEST_DIR!, 'askpass.sh'),
    SSH_ASKPASS_REQUIRE: 'force',
    ASKPASS_LOG: askpassLog,
    ASKPASS_PIN: '999999',
  };
  const brokerLog: string[] = [];
  const broker = new PinBroker({ keyring: store, askpass: { env }, pinentry: false, unlockWaitMs: 0, log: (l) => brokerLog.push(l) });
  assert.equal((await broker.getPin(TOKEN, {}))?.toString(), '482615', 'remembered PIN used');
  assert.equal((await broker.getPin(TOKEN, { triesLeft: 'low' }))?.toString(), '482615');
  // Final try: neither the cache nor the keyring; the prompt answers.
  assert.equal((await broker.getPin(TOKEN, { triesLeft: 'final' }))?.toString(), '999999', 'final try prompts');
  // CKR_PIN_INCORRECT: cache and keyring entry go.
  await broker.reject(TOKEN);
  assert.equal(lookup(TOKEN), null, 'reject deleted the keyring entry');
  assert.equal((await broker.getPin(TOKEN, {}))?.toString(), '999999', 'after reject: a prompt');
  assert.ok(!brokerLog.join('\n').includes('482615') && !brokerLog.join('\n').includes('999999'), 'PINs never logged');

  // supply with remember (tt-agent unlock --remember), then broker.forget.
  const r = await broker.supply(OTHER, Buffer.from('5555'), { remember: true });
  assert.deepEqual(r, { remembered: true });
  assert.equal(lookup(OTHER), '5555');
  await broker.forget(OTHER);
  assert.equal(lookup(OTHER), null);
  broker.close();

  // tt-agent forget-pin without an agent: removes the keyring entry.
  await store.set(TOKEN, Buffer.from('121212'));
  await store.set(OTHER, Buffer.from('343434'));
  const cli = path.join(__dirname, 'cli-run.ts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', cli, 'forget-pin', 'work card'], {
    encoding: 'utf8',
    env: { ...process.env, SSH_AUTH_SOCK: '' },
  });
  assert.match(out, /removed the remembered PIN of token "work card" \(serial 0123abcd\) from the OS keyring/);
  assert.equal(lookup(TOKEN), null);
  assert.equal(lookup(OTHER), '343434', 'the other token keeps its PIN');
  const none = spawnSync(process.execPath, ['--import', 'tsx', cli, 'forget-pin', 'work card'], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '' } });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no remembered PIN for token "work card"/);
  await store.delete(OTHER);
  process.stdout.write('keyring-child: all checks passed\n');
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
